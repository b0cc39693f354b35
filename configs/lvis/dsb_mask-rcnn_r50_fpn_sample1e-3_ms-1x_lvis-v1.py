# DSB twin of ce_mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py: the box
# head's cross-entropy re-weighted by the semantic scales of the ground-truth
# instances. Same weights and state-dict keys as the plain head.
_base_ = [
    './ce_mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py',
    '../_base_/det_dsb_hook.py',
]

model = dict(roi_head=dict(bbox_head=dict(type='DSBShared2FCBBoxHead')))
