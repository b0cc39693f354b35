# SoftTriple on CIFAR-100-LT, imbalance factor 50 (classes 0-59 train, 60-99
# test), BN-Inception, 64-d embedding.
# Paper Table 5: R@1 49.5, R@2 61.0, NMI 58.3.
_base_ = [
    '../_base_/models/bn-inception_st.py',
    '../_base_/datasets/dml_cifar100-lt.py',
    '../_base_/schedules/dml_adam_50e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=60, embed_dim=64))
train_dataloader = dict(dataset=dict(imbalance_factor=50))
# The CIFAR arrays are RGB; the checkpoint takes BGR.
data_preprocessor = dict(to_rgb=True)
