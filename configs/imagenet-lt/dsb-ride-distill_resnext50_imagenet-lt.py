# DSB+RIDE with distillation: ride-distill_resnext50_imagenet-lt.py
# whose per-expert classification terms are weighted by the DSB weights
# a_y (one bank of the mean expert feature, as
# dsb-ride_resnext50_imagenet-lt.py); the distillation term is not weighted.
# Needs the 6-expert teacher of ride-6experts_resnext50_imagenet-lt.py.
# ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./ride-distill_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBRIDEHead', dsb_bank='mean'))
