# DSB-PaCo: each anchor's PaCo term weighted by the DSB weight of its
# class; the DSB bank holds the classifier input (pooled query features).
# Paper Table 2, iNaturalist 2018, ResNet-50. See docs/paco.md.
_base_ = ['./paco_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBPaCoHead'))
