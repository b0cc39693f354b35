# Class-balanced softmax cross-entropy (CB-CE, Cui et al., 2019): CE
# weighted by the inverse effective number of samples, beta 0.999 (Cui et
# al.'s value for the large-scale sets; paper Table 2 does not give one).
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    head=dict(
        loss=dict(type='ClassBalancedLoss', beta=0.999, gamma=0.0,
                  _delete_=True)))
