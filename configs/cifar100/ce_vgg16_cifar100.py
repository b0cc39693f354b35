# Paper Table 3, CIFAR-100, cross-entropy: VGG-16 with batch norm (at 32 px
# its last stage is 1x1).
_base_ = ['../_base_/table3_cifar100.py']

model = dict(
    backbone=dict(type='VGG', depth=16, norm_cfg=dict(type='BN')),
    head=dict(in_channels=512))
