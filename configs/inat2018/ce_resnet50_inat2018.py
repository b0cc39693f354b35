# Cross-entropy baseline.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']
