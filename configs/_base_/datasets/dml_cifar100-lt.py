# Long-tailed CIFAR-100 for deep metric learning (paper Sec. 5.3, Fig. 8a,
# Table 5): training class i (0-based, M = 60) keeps
# floor(600 * mu ** (i / (1 - M))) of its 600 images, chosen with seed 0;
# the 40 test classes (24,000 images) are untouched. The paper uses
# mu = 10, 50 and 200. A config inheriting this piece changes mu with
#   train_dataloader = dict(dataset=dict(imbalance_factor=50))
# (`imbalance_factor` below only names the default).
_base_ = ['./dml_cifar100.py']

imbalance_factor = 10
train_dataloader = dict(
    dataset=dict(imbalance_factor=imbalance_factor, seed=0))
