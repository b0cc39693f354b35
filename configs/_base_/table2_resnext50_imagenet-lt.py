# Paper Table 2 on ImageNet-LT: ResNeXt-50 (32x4d), 8 GPUs x 32 = 256
# images, SGD lr 0.1 with linear decay, momentum 0.9, weight decay 5e-4;
# ClassCountsHook hands the training counts to count-based losses.
_base_ = [
    'mmpretrain::_base_/models/resnext50_32x4d.py',
    './datasets/imagenet-lt_bs32.py',
    './schedules/imagenet-lt_bs256_linear.py',
    './lt_runtime.py',
]
