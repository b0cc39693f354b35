# Softmax focal loss, gamma 2.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    head=dict(loss=dict(type='SoftmaxFocalLoss', gamma=2.0, _delete_=True)))
