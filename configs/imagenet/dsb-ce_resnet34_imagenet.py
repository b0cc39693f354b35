# Paper Table 3, ImageNet, DSB-CE: ResNet-34. Sample-balanced data, so
# alpha = 1.
_base_ = ['./ce_resnet34_imagenet.py', '../_base_/dsb_hook_balanced.py']

model = dict(head=dict(type='DSBLinearClsHead'))
