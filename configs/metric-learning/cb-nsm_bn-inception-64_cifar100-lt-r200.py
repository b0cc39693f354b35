# CB-NSM on CIFAR-100-LT, imbalance factor 200 (classes 0-59 train, 60-99
# test), BN-Inception, 64-d embedding: NormSoftmax with the class-balanced
# weights of Cui et al. (beta 0.9999; ClassCountsHook reads the class counts of
# the training set).
# Paper Table 5: R@1 45.5, R@2 55.3, NMI 53.8.
_base_ = ['./nsm_bn-inception-64_cifar100-lt-r200.py']

model = dict(head=dict(cb_beta=0.9999))
default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
