# FBL on ImageNet-LT, thesis Table 4.1: ResNet-50 from scratch, batch 512
# (8 GPUs x 64), lr 0.2, weight decay 2e-4, x0.01 at epochs 160 and 180,
# 200 epochs (the table's values; the text of Sec. 4.4.1.2 says 180 epochs,
# x0.1 at 120 and 160). Feature-balanced logits, cross-entropy.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet-lt_bs32.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='FBLClsHead',
        alpha_schedule='parabolic',
        loss=dict(type='CrossEntropyLoss', _delete_=True)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=2e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[160, 180], gamma=0.01)
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
train_dataloader = dict(batch_size=64)
auto_scale_lr = dict(base_batch_size=512)
