# PaCo (Cui et al., Parametric Contrastive Learning, ICCV 2021).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d), with the Table 2 training
# strategy (SGD, batch 256, lr 0.1 linear decay, weight decay 5e-4). The
# PaCo settings are those of the authors' ImageNetLT_train_X50.sh: alpha
# 0.05, beta 1, gamma 1, temperature 0.07, a queue of 8192 keys of 128
# dimensions, key momentum 0.999, and their two views (randclsstack_sim).
# See docs/paco.md.
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    type='PaCoClassifier',
    proj_dim=128,
    queue_size=8192,
    momentum=0.999,
    head=dict(
        type='PaCoHead',
        loss=dict(
            type='PaCoLoss',
            alpha=0.05,
            beta=1.0,
            gamma=1.0,
            temperature=0.07,
            _delete_=True)))
# Normalises each view of the two-view training batches.
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')

bgr_mean = [103.53, 116.28, 123.675]
# The query view: RandomResizedCrop, flip, colour jitter, grayscale, blur
# and RandAugment n=2, m=10, mstd=0.5 (their "randnclsstack").
query_view = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.0),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2,
         total_level=10, magnitude_level=10, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in bgr_mean],
                      interpolation='bicubic')),
]
# The key view: their SimCLR-style "sim" augmentation.
key_view = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0)),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.0),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[query_view, key_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
