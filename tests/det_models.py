"""Tiny mmdet detectors and Runner configs for the detection tests.

The first three stages of a ResNet-18 with 8 base channels, a 3-level FPN
of 16 channels and a box head of 32 channels train on the 64 px long-tailed
digit fixture in a fraction of a second per iteration on an idle CPU core
(the DSB bank is 16-d, the narrowest classifier input). The R-CNN
samplers keep every
positive RoI (at most 32 proposals plus 3 ground truths per image, against
48 positive slots), so each ground-truth instance enters the bank once per
iteration.
"""
import copy
from typing import Optional

from mmengine.config import ConfigDict

NUM_CLASSES = 10
CHANNELS = 16
STRIDES = [4, 8, 16]

DATA_PREPROCESSOR = dict(
    type='DetDataPreprocessor',
    mean=[0., 0., 0.],
    std=[255., 255., 255.],
    bgr_to_rgb=False,
    pad_size_divisor=16)
BACKBONE = dict(
    type='ResNet',
    depth=18,
    base_channels=8,
    num_stages=3,
    strides=(1, 2, 2),
    dilations=(1, 1, 1),
    out_indices=(0, 1, 2),
    frozen_stages=-1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    style='pytorch')
NECK = dict(
    type='FPN', in_channels=[8, 16, 32], out_channels=CHANNELS,
    num_outs=3)
DELTA_CODER = dict(
    type='DeltaXYWHBBoxCoder',
    target_means=[0., 0., 0., 0.],
    target_stds=[0.1, 0.1, 0.2, 0.2])
RPN_HEAD = dict(
    type='RPNHead',
    in_channels=CHANNELS,
    feat_channels=CHANNELS,
    anchor_generator=dict(
        type='AnchorGenerator',
        scales=[4],
        ratios=[0.5, 1.0, 2.0],
        strides=STRIDES),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0., 0., 0., 0.],
        target_stds=[1., 1., 1., 1.]),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                  loss_weight=1.0),
    loss_bbox=dict(type='L1Loss', loss_weight=1.0))
ROI_EXTRACTOR = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
    out_channels=CHANNELS,
    featmap_strides=STRIDES)
RPN_TRAIN = dict(
    assigner=dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.7,
        neg_iou_thr=0.3,
        min_pos_iou=0.3,
        match_low_quality=True,
        ignore_iof_thr=-1),
    sampler=dict(
        type='RandomSampler',
        num=64,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False),
    allowed_border=-1,
    pos_weight=-1,
    debug=False)
PROPOSALS = dict(
    nms_pre=200,
    max_per_img=32,
    nms=dict(type='nms', iou_threshold=0.7),
    min_bbox_size=0)


def rcnn_train(pos_iou: float = 0.5, mask_size: Optional[int] = None):
    cfg = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=pos_iou,
            neg_iou_thr=pos_iou,
            min_pos_iou=pos_iou,
            match_low_quality=False,
            ignore_iof_thr=-1),
        sampler=dict(
            type='RandomSampler',
            num=64,
            pos_fraction=0.75,
            neg_pos_ub=-1,
            add_gt_as_proposals=True),
        pos_weight=-1,
        debug=False)
    if mask_size:
        cfg['mask_size'] = mask_size
    return cfg


def bbox_head(head_type: str = 'DSBShared2FCBBoxHead',
              loss_cls: Optional[dict] = None,
              bbox_coder: dict = DELTA_CODER,
              **kwargs) -> dict:
    return dict(
        type=head_type,
        in_channels=CHANNELS,
        fc_out_channels=32,
        roi_feat_size=7,
        num_classes=NUM_CLASSES,
        bbox_coder=bbox_coder,
        loss_cls=loss_cls or dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0),
        **kwargs)


def faster_rcnn(head: Optional[dict] = None) -> dict:
    """A tiny Faster R-CNN with a DSB box head (or ``head``)."""
    return dict(
        type='FasterRCNN',
        data_preprocessor=DATA_PREPROCESSOR,
        backbone=BACKBONE,
        neck=NECK,
        rpn_head=RPN_HEAD,
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=ROI_EXTRACTOR,
            bbox_head=head or bbox_head()),
        train_cfg=dict(
            rpn=RPN_TRAIN, rpn_proposal=PROPOSALS, rcnn=rcnn_train()),
        test_cfg=dict(
            rpn=PROPOSALS,
            rcnn=dict(
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=20)))


def mask_rcnn() -> dict:
    model = faster_rcnn()
    model['type'] = 'MaskRCNN'
    model['data_preprocessor'] = dict(DATA_PREPROCESSOR, pad_mask=True)
    model['roi_head'].update(
        mask_roi_extractor=dict(
            ROI_EXTRACTOR,
            roi_layer=dict(type='RoIAlign', output_size=7,
                           sampling_ratio=0)),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=1,
            in_channels=CHANNELS,
            conv_out_channels=CHANNELS,
            roi_feat_size=7,
            num_classes=NUM_CLASSES,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)))
    model['train_cfg']['rcnn'] = rcnn_train(mask_size=14)
    model['test_cfg']['rcnn']['mask_thr_binary'] = 0.5
    return model


def cascade_rcnn() -> dict:
    """Cascade R-CNN with three DSB box heads (IoU 0.5, 0.6, 0.7)."""
    model = faster_rcnn()
    model['type'] = 'CascadeRCNN'
    stds = ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
            [0.033, 0.033, 0.067, 0.067])
    model['roi_head'] = dict(
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=ROI_EXTRACTOR,
        bbox_head=[
            bbox_head(
                bbox_coder=dict(DELTA_CODER, target_stds=std),
                reg_class_agnostic=True) for std in stds
        ])
    model['train_cfg']['rcnn'] = [rcnn_train(iou) for iou in (0.5, 0.6, 0.7)]
    return model


def retinanet() -> dict:
    return dict(
        type='RetinaNet',
        data_preprocessor=DATA_PREPROCESSOR,
        backbone=BACKBONE,
        neck=dict(NECK, start_level=1, add_extra_convs='on_input'),
        bbox_head=dict(
            type='DSBRetinaHead',
            num_classes=NUM_CLASSES,
            in_channels=CHANNELS,
            stacked_convs=1,
            feat_channels=CHANNELS,
            anchor_generator=dict(
                type='AnchorGenerator',
                octave_base_scale=2,
                scales_per_octave=2,
                ratios=[0.5, 1.0, 2.0],
                strides=[8, 16, 32]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[1., 1., 1., 1.]),
            loss_cls=dict(
                type='FocalLoss',
                use_sigmoid=True,
                gamma=2.0,
                alpha=0.25,
                loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0,
                ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        test_cfg=dict(
            nms_pre=200,
            min_bbox_size=0,
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=20))


def dsb_hook(warmup_epochs: int = 1) -> dict:
    """DSBHook with a bank as wide as the smallest classifier input."""
    return dict(
        type='DSBHook',
        warmup_epochs=warmup_epochs,
        weighter=dict(type='SemanticScaleWeighter', bank_dim=CHANNELS))


def runner_cfg(model: dict,
               fixture: dict,
               work_dir: str,
               max_epochs: int = 3,
               warmup_epochs: int = 1,
               batch_size: int = 2,
               with_mask: bool = False,
               hook: Optional[dict] = None,
               checkpoint: bool = False,
               batch_sampler: Optional[dict] = None,
               **kwargs) -> dict:
    """Keyword arguments of ``Runner`` that train ``model`` on the digit
    fixture (``write_digits_lvis``'s return value) with DSBHook; the
    caller imports ``mmdsb.det``."""
    dataset = dict(
        type='LVISV1Dataset',
        data_root=fixture['data_root'],
        ann_file=fixture['train_ann_file'],
        data_prefix=dict(img=''),
        metainfo=dict(classes=fixture['classes']),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True,
                 with_mask=with_mask),
            dict(type='PackDetInputs'),
        ])
    cfg = dict(
        model=ConfigDict(copy.deepcopy(model)),
        work_dir=work_dir,
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=batch_sampler,
            collate_fn=dict(type='pseudo_collate'),
            dataset=dataset),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs,
                       val_interval=max_epochs + 1),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                           weight_decay=1e-4),
            clip_grad=dict(max_norm=10.0)),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=50),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(
                type='CheckpointHook', interval=1 if checkpoint else 10**6,
                save_last=checkpoint),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        custom_hooks=[
            hook or dsb_hook(warmup_epochs)
        ],
        default_scope='mmdet',
        randomness=dict(seed=0),
        env_cfg=dict(cudnn_benchmark=False,
                     dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    cfg.update(kwargs)
    return cfg
