# DSB-LADE: LADE weighted by the DSB semantic-scale weights.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./lade_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
