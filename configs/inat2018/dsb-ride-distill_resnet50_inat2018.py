# DSB+RIDE with distillation: ride-distill_resnet50_inat2018.py
# whose per-expert classification terms are weighted by the DSB weights
# a_y (one bank of the mean expert feature, as
# dsb-ride_resnet50_inat2018.py); the distillation term is not weighted.
# Needs the 6-expert teacher of ride-6experts_resnet50_inat2018.py.
# iNaturalist 2018, ResNet-50.
_base_ = ['./ride-distill_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBRIDEHead', dsb_bank='mean'))
