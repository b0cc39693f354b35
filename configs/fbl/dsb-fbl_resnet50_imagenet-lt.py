# DSB-FBL on ImageNet-LT: FBL with DSB loss weights.
_base_ = ['./fbl_resnet50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBFBLClsHead'))
