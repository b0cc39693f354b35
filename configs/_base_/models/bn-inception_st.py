# Deep metric learning with SoftTriple (paper Sec. 5.3, App. D.5, F.1):
# BN-Inception, global average pooling and one linear layer to the
# embedding as in bn-inception_nsm.py, then K = 10 centres per class with
# the hyper-parameters of the SoftTriple paper and code (Qian et al.,
# 2019): lambda 20, gamma 0.1, tau 0.2, delta 0.01.
_base_ = ['./bn-inception_nsm.py']

model = dict(
    head=dict(
        _delete_=True,
        type='SoftTripleHead',
        num_classes=100,
        in_channels=1024,
        embed_dim=64,
        num_centers=10,
        gamma=0.1,
        tau=0.2,
        loss=dict(type='SoftTripleLoss', scale=20.0, margin=0.01)))
