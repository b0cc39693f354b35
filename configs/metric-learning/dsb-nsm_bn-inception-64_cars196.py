# DSB-NSM (paper eq. 5) on Cars196 (classes 1-98 train, 99-196 test),
# BN-Inception, 64-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 77.9, R@2 86.4, NMI 67.8.
_base_ = [
    './nsm_bn-inception-64_cars196.py',
    '../_base_/dsb_hook_balanced.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
