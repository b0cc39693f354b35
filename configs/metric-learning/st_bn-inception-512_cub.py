# SoftTriple on CUB-200-2011 (classes 1-100 train, 101-200 test), BN-Inception,
# 512-d embedding.
# Not in the paper: Table 4 has no 512-d SoftTriple row (the baseline of
# DSB-ST).
_base_ = ['./st_bn-inception-64_cub.py']

model = dict(head=dict(embed_dim=512))
