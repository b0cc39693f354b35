# ImageNet-LT (Liu et al., 2019): 115,846 training images of 1000 classes
# (1280 down to 5 per class), read from the published split lists, one
# "path label" line per image, e.g. "train/n01440764/n01440764_190.JPEG 0".
# Expected layout:
#   data/imagenet/train/...  data/imagenet/val/...   (ImageNet images)
#   data/imagenet/meta/ImageNet_LT_{train,val,test}.txt   (split lists)
# ImageNet_LT_test.txt (50 per class) is the test split of the literature;
# ImageNet_LT_val.txt (20 per class) is for model selection.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32.py']

data_root = 'data/imagenet'
lt_dataset = dict(
    type='CustomDataset', data_root=data_root, data_prefix='',
    with_label=True, _delete_=True)

train_dataloader = dict(
    dataset=dict(
        lt_dataset,
        ann_file='meta/ImageNet_LT_train.txt',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        lt_dataset,
        ann_file='meta/ImageNet_LT_test.txt',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

# overall / many (> 100) / medium (20-100) / few (< 20) top-1 accuracy, with
# the groups counted from the training list.
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ShotAccuracy',
         train_ann_file=data_root + '/meta/ImageNet_LT_train.txt'),
]
test_evaluator = val_evaluator
