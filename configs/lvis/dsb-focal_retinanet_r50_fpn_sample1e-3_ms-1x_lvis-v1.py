# DSB twin of focal_retinanet_r50_fpn_sample1e-3_ms-1x_lvis-v1.py: the focal
# loss of every positive anchor multiplied by its class's DSB weight; the bank
# holds one entry per ground-truth instance, the classification tower's mean
# feature at its positive anchors.
_base_ = [
    './focal_retinanet_r50_fpn_sample1e-3_ms-1x_lvis-v1.py',
    '../_base_/det_dsb_hook.py',
]

model = dict(bbox_head=dict(type='DSBRetinaHead'))
