# DSB-CE of paper Table 2 on ImageNet-LT: the cross-entropy baseline with a
# DSB head and the dynamic re-weighting framework (warm-up 5 epochs,
# alpha 2 for long-tailed data).
_base_ = ['./ce_resnext50_imagenet-lt.py', '_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
