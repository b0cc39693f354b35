# Plain twin: mmdet's Seesaw Loss config, Mask R-CNN R-50-FPN 2x on LVIS v1
# with repeat-factor sampling and a normalised linear classifier.
_base_ = [
    'mmdet::seesaw_loss/'
    'mask-rcnn_r50_fpn_seesaw-loss_sample1e-3-ms-2x_lvis-v1.py'
]

# mmdsb.det also lets the LVIS API evaluate under numpy >= 1.24.
custom_imports = dict(imports=['mmdsb.det'], allow_failed_imports=False)

# A NaN or infinite training loss stops the run, naming the iteration and the
# loss terms (mmdsb's InvalidLossHook; action='skip' skips such steps).
default_hooks = dict(invalid_loss=dict(type='InvalidLossHook', action='raise'))
