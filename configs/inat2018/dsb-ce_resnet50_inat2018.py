# DSB-CE: cross-entropy with a DSB head and the dynamic re-weighting
# framework (warm-up 5 epochs, alpha 2 for long-tailed data).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['./ce_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
