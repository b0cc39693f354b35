# Softmax focal loss (gamma 2) baseline of paper Table 2 on ImageNet-LT.
_base_ = ['./ce_resnext50_imagenet-lt.py']

model = dict(
    head=dict(loss=dict(type='SoftmaxFocalLoss', gamma=2.0, _delete_=True)))
