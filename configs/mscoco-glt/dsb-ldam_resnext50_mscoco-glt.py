# DSB-LDAM of paper Table 11: LDAM with DSB weights, which replace DRW's
# (drw_epoch=None), on Train-GLT of MSCOCO-GLT.
_base_ = ['./ldam-drw_resnext50_mscoco-glt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead', loss=dict(drw_epoch=None)))
