# MBJ+RIDE: RIDE plus MBJ's memory of earlier features (Liu et al., AAAI
# 2022). One memory of the 3 experts' concatenated features, admitted with
# probability n_min / n_c (class counts from ClassCountsHook); each expert's
# classifier also learns from its part of the memory (cross-entropy,
# averaged over the experts; see docs/mbj.md).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./ride_resnext50_imagenet-lt.py']

model = dict(head=dict(type='MBJRIDEHead',
                       memory_size=8192,
                       memory_loss_weight=1.0,
                       admit_power=1.0))
