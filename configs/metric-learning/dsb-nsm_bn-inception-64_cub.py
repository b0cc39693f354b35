# DSB-NSM (paper eq. 5) on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 64-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 59.2, R@2 70.7, NMI 66.5.
_base_ = [
    './nsm_bn-inception-64_cub.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
