# DSB-ST (paper eq. 6) on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 64-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 61.3, R@2 72.7, NMI 67.3.
_base_ = [
    './st_bn-inception-64_cub.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
