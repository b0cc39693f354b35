# Class-balanced focal loss (CB-Focal, Cui et al., 2019) with Cui et al.'s
# iNaturalist 2018 values, beta 0.999 and gamma 0.5, in mmdsb's softmax
# form (Cui et al. use a sigmoid focal loss there).
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    head=dict(
        loss=dict(type='ClassBalancedLoss', beta=0.999, gamma=0.5,
                  _delete_=True)))
