# DSB-ST (paper eq. 6) on Cars196 (classes 1-98 train, 99-196 test),
# BN-Inception, 512-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 85.6, R@2 91.3, NMI 71.1.
_base_ = [
    './st_bn-inception-512_cars196.py',
    '../_base_/dsb_hook_balanced_512d.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
