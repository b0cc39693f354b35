# DSB-NSM (paper eq. 5) on Cars196-LT, imbalance factor 20 (classes 1-98 train,
# 99-196 test), BN-Inception, 64-d embedding: NormSoftmax re-weighted by the
# semantic scales of the embeddings in the DSB bank, alpha 2 (long-tailed
# data).
# Paper Table 8: R@1 65.4, R@2 75.7, NMI 56.6.
_base_ = [
    './nsm_bn-inception-64_cars196-lt-r20.py',
    '../_base_/dsb_hook.py',
]

model = dict(head=dict(type='DSBCosineClsHead'))
