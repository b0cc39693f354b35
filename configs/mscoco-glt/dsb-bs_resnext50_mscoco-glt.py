# DSB-BLSoftmax of paper Table 11: balanced softmax weighted by the DSB
# semantic-scale weights, on Train-GLT of MSCOCO-GLT.
_base_ = ['./bs_resnext50_mscoco-glt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
