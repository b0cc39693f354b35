# GCL stage 1 on ImageNet-LT, thesis Table 5.1: ResNet-50 from scratch,
# batch 256 (8 GPUs x 32), lr 0.1, weight decay 2e-4, x0.01 at epochs 160
# and 180, 200 epochs. Cosine classifier, Gaussian clouded logits (s = 30).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet-lt_bs32.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='CosineClsHead',
        loss=dict(type='GCLLoss', scale=30.0, noise_std=1 / 3,
                  _delete_=True)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[160, 180], gamma=0.01)
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(base_batch_size=256)
