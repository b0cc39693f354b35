# CIFAR-10-LT, imbalance ratio 100 (12,406 training images, 5000 down to 50 per
# class), balanced 10,000-image test set. Expected layout:
#   data/cifar/cifar-10-batches-py/data_batch_{1..5}, test_batch
# Augmentation of the long-tailed CIFAR literature: pad 4, random 32x32
# crop, horizontal flip.
dataset_type = 'CIFAR10LT'
data_root = 'data/cifar'
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        imbalance_ratio=100,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        imbalance_ratio=100,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader
# many (> 100 training images) / medium (20-100) / few (< 20) accuracy
val_evaluator = dict(type='ShotAccuracy')
test_evaluator = val_evaluator
