# SoftTriple on Mini-ImageNet (64 classes train, 36 test), BN-Inception, 64-d
# embedding.
# Paper Table 9: R@1 86.9, R@2 92.0, NMI 77.3.
_base_ = [
    '../_base_/models/bn-inception_st.py',
    '../_base_/datasets/dml_mini-imagenet.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=64, embed_dim=64))
# Table 9 does not name the embedding size; 64-d as in Tables 5 and 8.
