# DSB-PaCo: each anchor's PaCo term weighted by the DSB weight of its
# class; the DSB bank holds the classifier input (pooled query features).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d). See docs/paco.md.
_base_ = ['./paco_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBPaCoHead'))
