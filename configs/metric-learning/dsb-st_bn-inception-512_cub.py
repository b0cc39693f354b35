# DSB-ST (paper eq. 6) on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 512-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 66.4, R@2 77.0, NMI 70.6.
_base_ = [
    './st_bn-inception-512_cub.py',
    '../_base_/dsb_hook_balanced_512d.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
