# Mini-ImageNet for deep metric learning (paper App. D.5.2, Table 9): the
# 64 classes of the Ravi & Larochelle train.csv (38,400 images) train, the
# 36 classes of val.csv and test.csv (21,600 images) test. Expected layout:
#   data/mini-imagenet/train.csv, val.csv, test.csv   ("filename,label")
#   data/mini-imagenet/images/*.jpg
# Pipelines, loaders and metric as for CUB-200-2011.
_base_ = ['./dml_cub.py']

dataset_type = 'MiniImageNetRetrieval'
data_root = 'data/mini-imagenet'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
