# DSB-LDAM: LDAM with DSB weights, which replace DRW's (drw_epoch=None).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['./ldam-drw_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead', loss=dict(drw_epoch=None)))
