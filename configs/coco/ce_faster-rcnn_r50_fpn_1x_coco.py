# Plain twin: mmdet's Faster R-CNN R-50-FPN 1x on COCO 2017.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
