# NormSoftmax on Cars196 (classes 1-98 train, 99-196 test), BN-Inception, 512-d
# embedding.
# Paper Table 4: R@1 83.2, R@2 89.5, NMI 69.7.
_base_ = ['./nsm_bn-inception-64_cars196.py']

model = dict(head=dict(embed_dim=512))
