# FBL (thesis Ch. 4) on CIFAR-10-LT, rho = 100, thesis Table 4.1: ResNet-32,
# batch 128, lr 0.1 (5 warm-up epochs, as for KPS), weight decay 2e-4,
# x0.01 at epochs 160 and 180, 200 epochs. Linear classifier with
# feature-balanced training logits z - alpha(t) lambda / ||f||, alpha(t) =
# (t / T)^2, lambda from the class counts; cross-entropy.
_base_ = [
    '../_base_/models/resnet32_cifar.py',
    '../_base_/datasets/cifar10-lt-r100.py',
    '../_base_/schedules/cifar-lt_200e.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='FBLClsHead',
        num_classes=10,
        in_channels=64,
        alpha_schedule='parabolic',
        loss=dict(type='CrossEntropyLoss')))
