# DSB-CE on CIFAR-100-LT, imbalance ratio 50, ResNet-32: cross-entropy with
# a DSB head and the dynamic re-weighting framework (alpha 2).
_base_ = ['./ce_resnet32_cifar100-lt-r50.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
