# Paper Table 3, ImageNet, cross-entropy: ResNet-18.
_base_ = ['../_base_/table3_imagenet.py']

model = dict(
    backbone=dict(type='ResNet', depth=18), head=dict(in_channels=512))
