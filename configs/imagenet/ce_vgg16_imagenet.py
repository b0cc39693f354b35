# Paper Table 3, ImageNet, cross-entropy: VGG-16 with its fully connected
# classifier (512 x 7 x 7 -> 4096 -> 4096 -> 1000, dropout 0.5), with batch
# norm in the convolutions (as in the CIFAR-100 config) for training from
# scratch at the paper's learning rate.
_base_ = ['../_base_/table3_imagenet.py']

model = dict(
    backbone=dict(type='VGG', depth=16, norm_cfg=dict(type='BN')),
    neck=dict(type='FlattenNeck', output_size=(7, 7), _delete_=True),
    head=dict(
        type='StackedLinearClsHead',
        in_channels=512 * 7 * 7,
        mid_channels=[4096, 4096],
        dropout_rate=0.5))
