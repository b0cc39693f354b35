# Plain twin of the detection demo: a small Faster R-CNN (ResNet-18 at a
# quarter of its width, three FPN levels) trained from scratch on CPU on the
# long-tailed LVIS-format digit set (mmdsb.det.datasets.write_digits_lvis),
# evaluated with LVISMetric (AP, APr, APc, APf). The DSB head and hook run
# with re-weighting off, so the loss is exactly mmdet's cross-entropy while
# the semantic scales of the classes are still measured.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/det_dsb_runtime.py',
]

classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')

model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        num_stages=3,  # strides 4, 8, 16 suit 64 px images
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(0, 1, 2),
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must learn
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64], out_channels=64, num_outs=3),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # Digits are 16 to 32 px tall on 64 px images.
        anchor_generator=dict(scales=[4], strides=[4, 8, 16])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, featmap_strides=[4, 8, 16]),
        bbox_head=dict(
            type='DSBShared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=256,
            num_classes=len(classes))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.0001, max_per_img=100)))

dataset_type = 'LVISV1Dataset'
data_root = 'data/digits_lvis/'
# The images are 64 x 64 already; Resize records the scale factor.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='LVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric='bbox')
test_evaluator = val_evaluator

max_epochs = 24
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=24)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[18, 22], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))

custom_hooks = [
    dict(type='DSBHook', warmup_epochs=2, reweight=False,
         weighter={{_base_.dsb_weighter}}),
]
default_hooks = dict(
    invalid_loss=dict(type='InvalidLossHook', action='raise'),
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=24, max_keep_ckpts=1))
randomness = dict(seed=0)
