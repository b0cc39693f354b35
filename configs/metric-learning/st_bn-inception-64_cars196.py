# SoftTriple on Cars196 (classes 1-98 train, 99-196 test), BN-Inception, 64-d
# embedding.
# Paper Table 4: R@1 78.6, R@2 86.6, NMI 67.0.
_base_ = [
    '../_base_/models/bn-inception_st.py',
    '../_base_/datasets/dml_cars196.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=98, embed_dim=64))
