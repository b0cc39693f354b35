# Paper Table 3 on (sample-balanced) CIFAR-100: 500 training images per
# class (CIFAR100LT with imbalance_ratio 1 keeps the full set), batch 64,
# random crop (pad 4) and flip, Mixup or CutMix on every batch; Adam with
# lr 0.1 decayed linearly to 0, betas (0.9, 0.999) (the paper's "momentum
# 0.9"), weight decay 5e-3, as stated in the paper. The number of epochs is
# not stated; 200 as for CIFAR-LT. The method configs add the backbone.
_base_ = [
    './models/table3_mixup_cutmix.py',
    './datasets/cifar100-lt-r100.py',
    './lt_runtime.py',
]

model = dict(head=dict(num_classes=100))

train_dataloader = dict(batch_size=64, dataset=dict(imbalance_ratio=1))
val_dataloader = dict(dataset=dict(imbalance_ratio=1))
test_dataloader = val_dataloader
# Top-1/5 accuracy, and the many / medium / few split of ShotAccuracy (all
# classes have 500 training images, so medium and few show as absent).
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ShotAccuracy'),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=0.1, betas=(0.9, 0.999),
                   weight_decay=5e-3))
param_scheduler = dict(
    type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True,
    begin=0, end=200)
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
