# DSB-LDAM: LDAM with DSB weights, which replace DRW's (drw_epoch=None).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./ldam-drw_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead', loss=dict(drw_epoch=None)))
