# RIDE's distillation teacher: ride_resnet50_inat2018.py with 6
# experts instead of 3, otherwise the same (the authors train it with
# --num_experts 6). Train it first: ride-distill_resnet50_inat2018.py
# distils it into 3 experts.
# iNaturalist 2018, ResNet-50.
_base_ = ['./ride_resnet50_inat2018.py']

model = dict(backbone=dict(num_experts=6), head=dict(num_experts=6))
