# DSB-BS: balanced softmax weighted by the DSB semantic-scale weights.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./bs_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
