# MSCOCO-GLT (Tang et al., 2022, IFL): 29 object classes cropped from
# MSCOCO, read from the IFL release (MSCOCOGLT). Expected layout:
#   data/mscoco-glt/coco_glt/annotation.json, coco_glt/images/...
#   data/mscoco-glt/coco_cbl/annotation.json, coco_cbl/images/...
# Train-GLT (coco_glt) is the training set of the CLT and GLT protocols:
# validation runs the CLT protocol (Test-CBL) and testing the GLT protocol
# (Test-GBL), so one training run gives both; GLTAccuracy reports under the
# protocol's name (clt/accuracy, glt/precision, ...). IFL's pipeline:
# 112 px random resized crops (scale 0.5-1) and flips for training, resize
# to 128 and centre crop 112 for testing, its own mean and std. 4 GPUs x 64
# = 256 images per step.
data_root = 'data/mscoco-glt'
data_preprocessor = dict(
    num_classes=29,
    mean=[120.615, 109.395, 94.35],  # IFL's [0.473, 0.429, 0.370] x 255
    std=[70.635, 68.34, 69.87],  # IFL's [0.277, 0.268, 0.274] x 255
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=112, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=128, edge='short'),
    dict(type='CenterCrop', crop_size=112),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type='MSCOCOGLT', data_root=data_root, protocol='glt',
                 split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type='MSCOCOGLT', data_root=data_root, protocol='clt',
                 split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type='MSCOCOGLT', data_root=data_root, protocol='glt',
                 split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))

# Accuracy and macro precision (IFL's metrics) plus the many / medium / few
# accuracy of the long-tailed literature, with counts from the training set.
val_evaluator = [dict(type='GLTAccuracy'), dict(type='ShotAccuracy')]
test_evaluator = val_evaluator
