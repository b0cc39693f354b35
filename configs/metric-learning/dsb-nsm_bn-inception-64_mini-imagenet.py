# DSB-NSM (paper eq. 5) on Mini-ImageNet (64 classes train, 36 test),
# BN-Inception, 64-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 9: R@1 87.1, R@2 92.0, NMI 75.5.
_base_ = [
    './nsm_bn-inception-64_mini-imagenet.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
