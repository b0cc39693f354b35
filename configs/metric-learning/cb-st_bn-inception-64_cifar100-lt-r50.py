# CB-ST on CIFAR-100-LT, imbalance factor 50 (classes 0-59 train, 60-99 test),
# BN-Inception, 64-d embedding: SoftTriple with the class-balanced weights of
# Cui et al. (beta 0.9999; ClassCountsHook reads the class counts of the
# training set).
# Paper Table 5: R@1 51.1, R@2 62.8, NMI 59.4.
_base_ = ['./st_bn-inception-64_cifar100-lt-r50.py']

model = dict(head=dict(cb_beta=0.9999))
default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
