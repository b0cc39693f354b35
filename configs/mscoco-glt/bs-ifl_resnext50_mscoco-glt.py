# BLSoftmax + IFL of paper Table 11: balanced softmax plus IFL's centre loss
# and environments (the released code's default IFL loss), on Train-GLT of
# MSCOCO-GLT.
_base_ = ['./ce-ifl_resnext50_mscoco-glt.py']

model = dict(head=dict(loss=dict(type='BalancedSoftmaxLoss', _delete_=True)))
