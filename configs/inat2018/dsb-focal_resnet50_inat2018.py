# DSB-Focal: the focal loss weighted by the DSB semantic-scale weights.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['./focal_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
