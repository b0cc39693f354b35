# DSB-ST (paper eq. 6) on Mini-ImageNet (64 classes train, 36 test),
# BN-Inception, 64-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 9: R@1 88.0, R@2 92.8, NMI 78.8.
_base_ = [
    './st_bn-inception-64_mini-imagenet.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
