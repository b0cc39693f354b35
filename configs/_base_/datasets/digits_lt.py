# Long-tailed digits from scikit-learn (no download): 342 training images,
# counts 124, 80, 51, 33, 21, 14, 9, 5, 3, 2 (rho = 50), and a balanced test
# split of 50 per class.
dataset_type = 'DigitsLT'
data_preprocessor = dict(
    num_classes=10,
    mean=[77.85],  # pixel statistics of the digits scaled to 0..255
    std=[95.85],
    to_rgb=False)

train_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomCrop', crop_size=32, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(
        type=dataset_type,
        split='train',
        imbalance_ratio=50,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    dataset=dict(
        type=dataset_type,
        split='test',
        imbalance_ratio=50,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# many (> 100 training images) / medium (20-100) / few (< 20) accuracy
val_evaluator = dict(type='ShotAccuracy')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
