# Balanced softmax (Ren et al.): CE on logits shifted by log of the class
# prior.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(head=dict(loss=dict(type='BalancedSoftmaxLoss', _delete_=True)))
