# CIFAR-100-LT, imbalance ratio 100 (10,847 training images, 500 down to 5 per
# class), balanced 10,000-image test set. Expected layout:
#   data/cifar/cifar-100-python/train, test
# Pipelines, loaders and metric as for CIFAR-10-LT.
_base_ = ['./cifar10-lt-r100.py']

dataset_type = 'CIFAR100LT'
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
