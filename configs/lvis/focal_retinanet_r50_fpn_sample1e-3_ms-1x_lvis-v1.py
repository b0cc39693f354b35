# Plain twin: mmdet's RetinaNet R-50-FPN 1x (sigmoid focal loss) trained on
# LVIS v1 as mmdet's LVIS Mask R-CNN is: repeat-factor sampling (t = 0.001),
# multi-scale training, up to 300 detections per image; boxes only.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/lvis_v1_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]

# mmdsb.det also lets the LVIS API evaluate under numpy >= 1.24.
custom_imports = dict(imports=['mmdsb.det'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(num_classes=1203),
    test_cfg=dict(score_thr=0.0001, max_per_img=300))

backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric='bbox')
test_evaluator = val_evaluator

# RetinaNet's learning rate (mmdet's retinanet_r50_fpn_1x_coco.py).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))

# A NaN or infinite training loss stops the run, naming the iteration and the
# loss terms (mmdsb's InvalidLossHook; action='skip' skips such steps).
default_hooks = dict(invalid_loss=dict(type='InvalidLossHook', action='raise'))
