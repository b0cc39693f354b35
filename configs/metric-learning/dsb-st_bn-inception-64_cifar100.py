# DSB-ST (paper eq. 6) on CIFAR-100 (classes 0-59 train, 60-99 test),
# BN-Inception, 64-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 9: R@1 63.5, R@2 73.9, NMI 53.0.
_base_ = [
    './st_bn-inception-64_cifar100.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
