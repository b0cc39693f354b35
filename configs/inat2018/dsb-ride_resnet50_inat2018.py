# DSB+RIDE: RIDE whose per-expert classification terms are weighted by the
# DSB weights a_y (which replace RIDE's DRW weights); one feature bank of
# the mean of the experts' features (dsb_bank='mean', see docs/ride.md).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['./ride_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBRIDEHead', dsb_bank='mean'))
