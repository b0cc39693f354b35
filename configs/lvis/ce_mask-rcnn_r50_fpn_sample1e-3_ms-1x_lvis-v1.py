# Plain twin: mmdet's Mask R-CNN R-50-FPN 1x on LVIS v1 with repeat-factor
# sampling (t = 0.001), softmax cross-entropy; LVISMetric (AP, APr, APc, APf).
_base_ = ['mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py']

# mmdsb.det also lets the LVIS API evaluate under numpy >= 1.24.
custom_imports = dict(imports=['mmdsb.det'], allow_failed_imports=False)

# A NaN or infinite training loss stops the run, naming the iteration and the
# loss terms (mmdsb's InvalidLossHook; action='skip' skips such steps).
default_hooks = dict(invalid_loss=dict(type='InvalidLossHook', action='raise'))
