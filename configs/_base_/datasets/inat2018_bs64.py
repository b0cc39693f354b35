# iNaturalist 2018: 437,513 training images of 8,142 classes, read from the
# official annotation files (INaturalist2018). Expected layout:
#   data/inat2018/train2018.json, val2018.json
#   data/inat2018/train_val2018/...   (file_name entries of the JSON files)
# The validation set (3 images per class) is the evaluation split of the
# long-tailed literature. 8 GPUs x 64 = 512 images per step.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32.py']

data_root = 'data/inat2018'
data_preprocessor = dict(num_classes=8142)
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        type='INaturalist2018', data_root=data_root, split='train',
        pipeline={{_base_.train_pipeline}}, _delete_=True))
val_dataloader = dict(
    batch_size=64,
    dataset=dict(
        type='INaturalist2018', data_root=data_root, split='val',
        pipeline={{_base_.test_pipeline}}, _delete_=True))
test_dataloader = val_dataloader

# overall / many (> 100) / medium (20-100) / few (< 20) top-1 accuracy; the
# dataset carries the training counts.
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ShotAccuracy'),
]
test_evaluator = val_evaluator
