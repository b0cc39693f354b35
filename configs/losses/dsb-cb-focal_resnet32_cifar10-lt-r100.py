# DSB on top of the class-balanced focal loss. CIFAR-10-LT, rho = 100.
_base_ = ['./cb-focal_resnet32_cifar10-lt-r100.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
