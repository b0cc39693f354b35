# DSB-NSM (paper eq. 5) on Cars196-LT, imbalance factor 10 (classes 1-98 train,
# 99-196 test), BN-Inception, 64-d embedding: NormSoftmax re-weighted by the
# semantic scales of the embeddings in the DSB bank, alpha 2 (long-tailed
# data).
# Paper Table 8: R@1 69.5, R@2 78.6, NMI 60.7.
_base_ = [
    './nsm_bn-inception-64_cars196-lt-r10.py',
    '../_base_/dsb_hook.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
