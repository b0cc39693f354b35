# Cross-entropy on CIFAR-10-LT, imbalance ratio 200, ResNet-32.
_base_ = ['../_base_/resnet32_cifar10-lt.py']

imbalance_ratio = 200
train_dataloader = dict(dataset=dict(imbalance_ratio=imbalance_ratio))
val_dataloader = dict(dataset=dict(imbalance_ratio=imbalance_ratio))
test_dataloader = val_dataloader
