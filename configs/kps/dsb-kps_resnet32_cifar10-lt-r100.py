# DSB-KPS on CIFAR-10-LT (rho 100): the KPS-GA recipe with DSB loss weights.
_base_ = ['./kps_resnet32_cifar10-lt-r100.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead'))
