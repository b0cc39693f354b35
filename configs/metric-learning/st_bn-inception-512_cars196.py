# SoftTriple on Cars196 (classes 1-98 train, 99-196 test), BN-Inception, 512-d
# embedding.
# Not in the paper: Table 4 has no 512-d SoftTriple row (the baseline of
# DSB-ST).
_base_ = ['./st_bn-inception-64_cars196.py']

model = dict(head=dict(embed_dim=512))
