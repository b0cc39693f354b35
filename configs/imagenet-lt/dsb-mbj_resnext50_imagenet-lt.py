# DSB+MBJ: the MBJ batch loss weighted by the DSB semantic-scale weights
# (the memory loss stays unweighted, see docs/mbj.md).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./mbj_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBMBJLinearClsHead'))
