# DSB-NSM (paper eq. 5) on CIFAR-100 (classes 0-59 train, 60-99 test),
# BN-Inception, 64-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 9: R@1 61.4, R@2 72.2, NMI 50.6.
_base_ = [
    './nsm_bn-inception-64_cifar100.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
