# DSB-LDAM: LDAM with DSB weights, which replace DRW's (drw_epoch=None).
# CIFAR-10-LT, rho = 100.
_base_ = ['./ldam-drw_resnet32_cifar10-lt-r100.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead', loss=dict(drw_epoch=None)))
