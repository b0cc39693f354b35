# Long-tailed CIFAR schedule (thesis Tables 3.1, 4.1, 5.1; LDAM-DRW recipe):
# SGD, momentum 0.9, weight decay 2e-4, lr 0.1 with a linear warm-up over 5
# epochs, multiplied by 0.01 at epochs 160 and 180 (compounding, as in the
# LDAM-DRW code), 200 epochs.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.2, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, milestones=[160, 180],
         gamma=0.01),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
