# Paper Table 3, CIFAR-100, DSB-CE:
# ResNet-18 (CIFAR stem). Sample-balanced data,
# so alpha = 1.
_base_ = ['./ce_resnet18_cifar100.py']

model = dict(head=dict(type='DSBLinearClsHead'))
custom_hooks = [
    dict(
        type='DSBHook',
        weighter=dict(
            type='SemanticScaleWeighter',
            alpha=1.0,
            interclass=True,
            eps=1.0,
            normalize='mean',
            bank_dim=64,
            max_weight_ratio=None),
        warmup_epochs=5),
]
