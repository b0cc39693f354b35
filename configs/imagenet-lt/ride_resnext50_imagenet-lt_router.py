# RIDE stage 2: the expert-assignment router on the trained 3-expert model
# (ride_resnext50_imagenet-lt.py, train it first), everything else frozen
# (weights and BN statistics). As the authors' config: 5 epochs of
# class-balanced sampling, batch 512 (8 GPUs x 64), SGD lr 0.01, Nesterov
# momentum 0.9, weight decay 5e-4, cosine schedule; the router reads the
# 50 largest mean logits, positives weighted 100.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./ride_resnext50_imagenet-lt.py']

load_from = 'work_dirs/ride_resnext50_imagenet-lt/epoch_100.pth'
model = dict(
    backbone=dict(frozen=True),
    head=dict(type='RIDERouterHead', top_choices=50, pos_weight=100.0))
train_dataloader = dict(
    batch_size=64, sampler=dict(type='ClassAwareSampler', _delete_=True))
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=5e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=5, eta_min=0.0, by_epoch=True,
         begin=0, end=5),
]
train_cfg = dict(max_epochs=5, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
