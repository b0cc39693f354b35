# DSB-FBL on CIFAR-100-LT (rho 100): FBL with DSB loss weights.
_base_ = ['./fbl_resnet32_cifar100-lt-r100.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBFBLClsHead'))
