# RIDE's distillation teacher: ride_resnext50_imagenet-lt.py with 6
# experts instead of 3, otherwise the same (the authors train it with
# --num_experts 6). Train it first: ride-distill_resnext50_imagenet-lt.py
# distils it into 3 experts.
# ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['./ride_resnext50_imagenet-lt.py']

model = dict(backbone=dict(num_experts=6), head=dict(num_experts=6))
