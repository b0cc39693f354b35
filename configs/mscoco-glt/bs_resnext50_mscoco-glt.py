# Balanced softmax (BLSoftmax of paper Table 11) on Train-GLT of MSCOCO-GLT.
_base_ = ['../_base_/table11_resnext50_mscoco-glt.py']

model = dict(head=dict(loss=dict(type='BalancedSoftmaxLoss', _delete_=True)))
