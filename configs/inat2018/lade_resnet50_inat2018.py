# LADE (Hong et al.): prior-adjusted CE plus the LADE regulariser
# (alpha 0.1, ReMINE lambda 0.1).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    head=dict(
        loss=dict(type='LADELoss', alpha=0.1, remine_lambda=0.1,
                  _delete_=True)))
