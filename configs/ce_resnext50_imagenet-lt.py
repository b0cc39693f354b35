# Cross-entropy baseline of paper Table 2 on ImageNet-LT: ResNeXt-50
# (32x4d), 8 GPUs x 32 images, see the schedule for the optimiser.
_base_ = [
    'mmpretrain::_base_/models/resnext50_32x4d.py',
    '_base_/datasets/imagenet-lt_bs32.py',
    '_base_/schedules/imagenet-lt_bs256_linear.py',
    '_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmdsb'], allow_failed_imports=False)
