# DSB twin of ce_faster-rcnn_r50_fpn_1x_coco.py: the box head's
# cross-entropy re-weighted by the semantic scales of the 80 COCO classes.
_base_ = [
    './ce_faster-rcnn_r50_fpn_1x_coco.py',
    '../_base_/det_dsb_runtime.py',
]

model = dict(roi_head=dict(bbox_head=dict(type='DSBShared2FCBBoxHead')))
