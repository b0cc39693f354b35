# Paper Table 3, CIFAR-100, DSB-CE:
# ResNet-50 (CIFAR stem). Sample-balanced data,
# so alpha = 1.
_base_ = ['./ce_resnet50_cifar100.py', '../_base_/dsb_hook_balanced.py']

model = dict(head=dict(type='DSBLinearClsHead'))
