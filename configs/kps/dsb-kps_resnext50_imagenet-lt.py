# DSB-KPS on ImageNet-LT: the KPS-GA recipe with DSB loss weights.
_base_ = ['./kps_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead'))
