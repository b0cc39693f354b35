# MBJ (Liu et al., AAAI 2022): cross-entropy on the batch plus
# cross-entropy on a memory of earlier features, admitted with probability
# n_min / n_c (class counts from ClassCountsHook).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(head=dict(type='MBJLinearClsHead',
                       memory_size=8192,
                       memory_loss_weight=1.0,
                       admit_power=1.0))
