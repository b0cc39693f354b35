# Plain cross-entropy on long-tailed digits. The DSB head and hook run with
# re-weighting off, so the loss is exactly cross-entropy while the semantic
# scales are still measured and printed next to the DSB run's.
_base_ = [
    '../_base_/datasets/digits_lt.py',
    '../_base_/default_runtime.py',
    '../_base_/dsb_hook.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet5'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DSBLinearClsHead',
        num_classes=10,
        in_channels=120,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True,
    begin=0, end=40)
train_cfg = dict(by_epoch=True, max_epochs=40, val_interval=10)
val_cfg = dict()
test_cfg = dict()

custom_hooks = [
    dict(type='DSBHook', warmup_epochs=5, reweight=False,
         weighter=dict(type='SemanticScaleWeighter', alpha=2.0)),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
