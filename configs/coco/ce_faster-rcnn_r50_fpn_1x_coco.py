# Plain twin: mmdet's Faster R-CNN R-50-FPN 1x on COCO 2017.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']

# A NaN or infinite training loss stops the run, naming the iteration and the
# loss terms (mmdsb's InvalidLossHook; action='skip' skips such steps).
default_hooks = dict(invalid_loss=dict(type='InvalidLossHook', action='raise'))
