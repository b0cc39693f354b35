# NormSoftmax on CUB-200-2011 (classes 1-100 train, 101-200 test),
# BN-Inception, 512-d embedding.
# Paper Table 4: R@1 63.9, R@2 75.5, NMI 68.3.
_base_ = ['./nsm_bn-inception-64_cub.py']

model = dict(head=dict(embed_dim=512))
