# CIFAR-100 for deep metric learning (paper App. D.5, Table 9): the 600
# images of each class (train and test pickles together), classes 0-59
# (36,000 images) train, classes 60-99 (24,000 images) test. Expected
# layout (the python version, as for CIFAR-100-LT):
#   data/cifar/cifar-100-python/train, test, meta
# The 32x32 images are upsampled to the 224x224 inputs of the protocol
# (random resized crop and flip; resize to 256, 224 centre crop). They are
# held in memory as RGB arrays, not loaded from files.
_base_ = ['./dml_cub.py']

dataset_type = 'CIFAR100Retrieval'
data_root = 'data/cifar'
train_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
