# Paper Table 3, ImageNet, cross-entropy: ResNet-50.
_base_ = ['../_base_/table3_imagenet.py']

model = dict(
    backbone=dict(type='ResNet', depth=50), head=dict(in_channels=2048))
