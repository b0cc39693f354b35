# CB-NSM on Cars196-LT, imbalance factor 20 (classes 1-98 train, 99-196 test),
# BN-Inception, 64-d embedding: NormSoftmax with the class-balanced weights of
# Cui et al. (beta 0.9999; ClassCountsHook reads the class counts of the
# training set).
# Paper Table 8: R@1 64.9, R@2 75.2, NMI 56.1.
_base_ = ['./nsm_bn-inception-64_cars196-lt-r20.py']

model = dict(head=dict(cb_beta=0.9999))
default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
