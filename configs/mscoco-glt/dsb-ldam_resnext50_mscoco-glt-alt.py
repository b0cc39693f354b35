# DSB-LDAM for the ALT protocol of MSCOCO-GLT: trained on the
# class-balanced Train-CBL, so alpha = 1; DSB weights replace DRW's.
_base_ = [
    './ldam-drw_resnext50_mscoco-glt-alt.py', '../_base_/dsb_hook_balanced.py'
]

model = dict(head=dict(type='DSBCosineClsHead', loss=dict(drw_epoch=None)))
