# DSB-ST (paper eq. 6) on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 512-d embedding: SoftTriple re-weighted by the semantic scales
# of the embeddings in the DSB bank, alpha 1 (sample-balanced data).
# Paper Table 4: R@1 66.4, R@2 77.0, NMI 70.6.
_base_ = ['./st_bn-inception-512_cub.py']

model = dict(head=dict(type='DSBSoftTripleHead'))
# The DSB framework; the bank stores the whole embedding.
custom_hooks = [
    dict(
        type='DSBHook',
        weighter=dict(
            type='SemanticScaleWeighter',
            alpha=1.0,
            bank_dim=512),
        warmup_epochs=5),
]
