# Balanced softmax (Ren et al.): CE on logits shifted by log of the class
# prior.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(head=dict(loss=dict(type='BalancedSoftmaxLoss', _delete_=True)))
