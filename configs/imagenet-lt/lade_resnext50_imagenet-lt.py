# LADE (Hong et al.): prior-adjusted CE plus the LADE regulariser
# (alpha 0.1, ReMINE lambda 0.1).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    head=dict(
        loss=dict(type='LADELoss', alpha=0.1, remine_lambda=0.1,
                  _delete_=True)))
