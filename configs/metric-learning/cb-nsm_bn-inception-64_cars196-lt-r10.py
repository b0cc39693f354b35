# CB-NSM on Cars196-LT, imbalance factor 10 (classes 1-98 train, 99-196 test),
# BN-Inception, 64-d embedding: NormSoftmax with the class-balanced weights of
# Cui et al. (beta 0.9999; ClassCountsHook reads the class counts of the
# training set).
# Paper Table 8: R@1 68.9, R@2 78.0, NMI 60.1.
_base_ = ['./nsm_bn-inception-64_cars196-lt-r10.py']

model = dict(head=dict(cb_beta=0.9999))
default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
