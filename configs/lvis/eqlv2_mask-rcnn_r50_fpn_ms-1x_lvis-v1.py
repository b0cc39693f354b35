# Plain twin: Equalization Loss v2 (mmdsb's EqualizationLossV2, as published:
# label_weights and avg_factor honoured, gradient statistics summed over all
# ranks) in mmdet's Mask R-CNN R-50-FPN 1x on LVIS v1. As in the EQLv2 paper
# the images are drawn uniformly, without repeat-factor sampling.
_base_ = ['mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py']

# mmdsb.det registers EqualizationLossV2 and lets the LVIS API evaluate
# under numpy >= 1.24.
custom_imports = dict(imports=['mmdsb.det'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='EqualizationLossV2',
                num_classes=1203,
                loss_weight=1.0))))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LVISV1Dataset',
        data_root='data/lvis_v1/',
        ann_file='annotations/lvis_v1_train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline={{_base_.train_pipeline}},
        backend_args=None))

# A NaN or infinite training loss stops the run, naming the iteration and the
# loss terms (mmdsb's InvalidLossHook; action='skip' skips such steps).
default_hooks = dict(invalid_loss=dict(type='InvalidLossHook', action='raise'))
