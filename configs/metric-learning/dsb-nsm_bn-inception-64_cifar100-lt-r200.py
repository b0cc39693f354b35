# DSB-NSM (paper eq. 5) on CIFAR-100-LT, imbalance factor 200 (classes 0-59
# train, 60-99 test), BN-Inception, 64-d embedding: NormSoftmax re-weighted by
# the semantic scales of the embeddings in the DSB bank, alpha 2 (long-tailed
# data).
# Paper Table 5: R@1 46.0, R@2 56.1, NMI 54.4.
_base_ = [
    './nsm_bn-inception-64_cifar100-lt-r200.py',
    '../_base_/dsb_hook.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
