# Paper Table 3 on ImageNet (ILSVRC 2012, 1,281,167 training and 50,000
# validation images): random resized crops and flips, Mixup (alpha 0.8) or
# CutMix (alpha 1.0) on every batch, Adam with lr 0.05, betas (0.9, 0.999)
# (the paper's "momentum 0.9") and weight decay 5e-4, total batch 512
# (8 GPUs x 64). The paper states neither the number of epochs nor the
# schedule on ImageNet; 100 epochs (mmpretrain's ResNet schedule length)
# with the linear decay it uses on CIFAR-100. mmpretrain's ImageNet layout:
#   data/imagenet/train/..., data/imagenet/val/...
#   data/imagenet/meta/train.txt, meta/val.txt ("path label" lines)
# The method configs add the backbone.
_base_ = [
    './models/table3_mixup_cutmix.py',
    'mmpretrain::_base_/datasets/imagenet_bs64.py',
    './lt_runtime.py',
]

model = dict(head=dict(num_classes=1000))

# Top-1/5 accuracy, and the many / medium / few split of ShotAccuracy (all
# classes have > 100 training images, so medium and few show as absent).
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ShotAccuracy', train_ann_file='data/imagenet/meta/train.txt'),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=0.05, betas=(0.9, 0.999),
                   weight_decay=5e-4))
param_scheduler = dict(
    type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True,
    begin=0, end=100)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=512)
