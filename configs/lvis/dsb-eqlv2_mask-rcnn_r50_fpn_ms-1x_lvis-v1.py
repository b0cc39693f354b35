# DSB twin of eqlv2_mask-rcnn_r50_fpn_ms-1x_lvis-v1.py: the EQLv2 terms of
# every foreground RoI multiplied by its class's DSB weight.
_base_ = [
    './eqlv2_mask-rcnn_r50_fpn_ms-1x_lvis-v1.py',
    '../_base_/det_dsb_hook.py',
]

model = dict(roi_head=dict(bbox_head=dict(type='DSBShared2FCBBoxHead')))
