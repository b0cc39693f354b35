# DSB-NSM (paper eq. 5) on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 512-d embedding: NormSoftmax re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 65.1, R@2 76.3, NMI 69.2.
_base_ = [
    './nsm_bn-inception-512_cub.py',
    '../_base_/dsb_hook_balanced_512d.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
