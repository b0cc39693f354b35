# LDAM-DRW (Cao et al.): cosine classifier, margins ~ n^(-1/4) up to 0.5,
# s = 30, class-balanced re-weighting (beta 0.9999) from epoch 160.
# CIFAR-10-LT, rho = 100, ResNet-32, the LDAM-DRW schedule (batch 128, lr
# 0.1 with 5 warm-up epochs, x0.01 at 160 and 180, 200 epochs).
_base_ = [
    '../_base_/models/resnet32_cifar.py',
    '../_base_/datasets/cifar10-lt-r100.py',
    '../_base_/schedules/cifar-lt_200e.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='CosineClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=160)))
