# NormSoftmax on Cars196-LT, imbalance factor 10 (classes 1-98 train, 99-196
# test), BN-Inception, 64-d embedding.
# Paper Table 8: R@1 66.4, R@2 76.9, NMI 58.9.
_base_ = [
    '../_base_/models/bn-inception_nsm.py',
    '../_base_/datasets/dml_cars196-lt.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=98, embed_dim=64))
train_dataloader = dict(dataset=dict(imbalance_factor=10))
