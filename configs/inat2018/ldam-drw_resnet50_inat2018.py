# LDAM-DRW (Cao et al.): cosine classifier, margins ~ n^(-1/4) up to 0.5,
# s = 30, class-balanced re-weighting (beta 0.9999) for the last third
# of training.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    head=dict(
        type='CosineClsHead',
        loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=60,
                  _delete_=True)))
