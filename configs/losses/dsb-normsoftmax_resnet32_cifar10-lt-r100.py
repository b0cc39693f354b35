# DSB-NSM (paper eq. 5). CIFAR-10-LT, rho = 100.
_base_ = ['./normsoftmax_resnet32_cifar10-lt-r100.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead'))
