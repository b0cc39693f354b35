# Class-balanced softmax cross-entropy (CB-CE, Cui et al., 2019): CE
# weighted by the inverse effective number of samples, beta 0.999 (Cui et
# al.'s value for the large-scale sets; paper Table 2 does not give one).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    head=dict(
        loss=dict(type='ClassBalancedLoss', beta=0.999, gamma=0.0,
                  _delete_=True)))
