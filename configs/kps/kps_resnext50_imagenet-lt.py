# KPS loss with GA on ImageNet-LT, thesis Table 3.1: ResNeXt-50 (32x4d)
# from scratch, batch 128 (8 GPUs x 16), lr 0.1, weight decay 1e-4, no
# warm-up, x0.1 at epochs 120 and 160, 180 epochs. m_max 0.35; GA after
# 108 epochs (the authors' CIFAR switch at 120 of 200, scaled to 180).
_base_ = [
    'mmpretrain::_base_/models/resnext50_32x4d.py',
    '../_base_/datasets/imagenet-lt_bs32.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='CosineClsHead',
        loss=dict(
            type='KPSLoss', n_base=50, s_base=15, m_max=0.35, ga_epoch=108,
            _delete_=True)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[120, 160], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=180, val_interval=10)
val_cfg = dict()
test_cfg = dict()
train_dataloader = dict(batch_size=16)
auto_scale_lr = dict(base_batch_size=128)
