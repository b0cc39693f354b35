# DSB-ST (paper eq. 6) on Cars196 (classes 1-98 train, 99-196 test),
# BN-Inception, 64-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 79.8, R@2 87.5, NMI 68.3.
_base_ = [
    './st_bn-inception-64_cars196.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
