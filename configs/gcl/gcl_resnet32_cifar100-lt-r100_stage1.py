# GCL stage 1, representation learning (thesis Ch. 5, Algorithm 5.1) on
# CIFAR-100-LT, rho = 100, thesis Table 5.1: ResNet-32, batch 128, lr 0.1 (5
# warm-up epochs), weight decay 2e-4, x0.01 at epochs 160 and 180, 200
# epochs, instance sampling. Cosine classifier, Gaussian clouded logits
# s (cos - delta_j |eps|), s = 30 (authors' code), sigma = 1/3.
_base_ = [
    '../_base_/models/resnet32_cifar.py',
    '../_base_/datasets/cifar100-lt-r100.py',
    '../_base_/schedules/cifar-lt_200e.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='CosineClsHead',
        num_classes=100,
        in_channels=64,
        loss=dict(type='GCLLoss', scale=30.0, noise_std=1 / 3)))
