# LDAM-DRW (Cao et al.): cosine classifier, margins ~ n^(-1/4) up to 0.5,
# s = 30, class-balanced re-weighting (beta 0.9999) for the last third
# of training.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    head=dict(
        type='CosineClsHead',
        loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=60,
                  _delete_=True)))
