# DSB-ST (paper eq. 6) on Cars196-LT, imbalance factor 10 (classes 1-98 train,
# 99-196 test), BN-Inception, 64-d embedding: SoftTriple re-weighted by the
# semantic scales of the embeddings in the DSB bank, alpha 2 (long-tailed
# data).
# Paper Table 8: R@1 72.3, R@2 81.8, NMI 63.4.
_base_ = [
    './st_bn-inception-64_cars196-lt-r10.py',
    '../_base_/dsb_hook.py',
]

model = dict(head=dict(type='DSBSoftTripleHead'))
