# Paper Table 3, CIFAR-100, cross-entropy: ResNet-18 (CIFAR stem).
_base_ = ['../_base_/table3_cifar100.py']

model = dict(
    backbone=dict(type='ResNet_CIFAR', depth=18),
    head=dict(in_channels=512))
