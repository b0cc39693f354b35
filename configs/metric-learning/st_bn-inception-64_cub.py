# SoftTriple on CUB-200-2011 (classes 1-100 train, 101-200 test), BN-Inception,
# 64-d embedding.
# Paper Table 4: R@1 60.1, R@2 71.9, NMI 66.2.
_base_ = [
    '../_base_/models/bn-inception_st.py',
    '../_base_/datasets/dml_cub.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=100, embed_dim=64))
