# DSB+MBJ: the MBJ batch loss weighted by the DSB semantic-scale weights
# (the memory loss stays unweighted, see docs/mbj.md).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['./mbj_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBMBJLinearClsHead'))
