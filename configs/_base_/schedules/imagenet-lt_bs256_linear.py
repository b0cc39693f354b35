# Paper Table 2: SGD, total batch 256, lr 0.1 with linear decay, momentum
# 0.9, weight decay 5e-4. The paper does not state the number of epochs;
# 90 is the long-tailed literature's ImageNet-LT schedule.
_base_ = ['mmpretrain::_base_/schedules/imagenet_bs256.py']

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True,
    begin=0, end=90, _delete_=True)
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=5)
auto_scale_lr = dict(base_batch_size=256)
