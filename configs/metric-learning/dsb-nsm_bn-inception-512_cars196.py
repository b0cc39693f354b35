# DSB-NSM (paper eq. 5) on Cars196 (classes 1-98 train, 99-196 test),
# BN-Inception, 512-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 84.0, R@2 90.2, NMI 70.9.
_base_ = [
    './nsm_bn-inception-512_cars196.py',
    '../_base_/dsb_hook_balanced_512d.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
