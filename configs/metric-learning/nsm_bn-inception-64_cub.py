# NormSoftmax on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 64-d embedding.
# Paper Table 4: R@1 57.8, R@2 70.0, NMI 65.3.
_base_ = [
    '../_base_/models/bn-inception_nsm.py',
    '../_base_/datasets/dml_cub.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=100, embed_dim=64))
