# DSB twin of seesaw_mask-rcnn_r50_fpn_sample1e-3_ms-2x_lvis-v1.py: Seesaw
# Loss passes the box head's label_weights through, so every foreground RoI's
# term is multiplied by its class's DSB weight.
_base_ = [
    './seesaw_mask-rcnn_r50_fpn_sample1e-3_ms-2x_lvis-v1.py',
    '../_base_/det_dsb_hook.py',
]

model = dict(roi_head=dict(bbox_head=dict(type='DSBShared2FCBBoxHead')))
