# BBN (Zhou et al., CVPR 2020): the last residual block of ResNeXt-50 split
# into a conventional branch (uniform sampler) and a re-balancing branch
# (reversed sampler), cumulative learning alpha = 1 - (epoch / 100)^2:
# the authors' code divides by 100 for a 90-epoch schedule. Batches hold
# 32 (uniform, reversed) pairs per GPU (8 x 32 = 256 pairs, 512 images),
# so each branch sees Table 2's 256 images per step.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    type='BBNClassifier', decay_epochs=100, head=dict(in_channels=4096))
train_dataloader = dict(
    batch_size=64, sampler=dict(type='BilateralSampler', _delete_=True))
# --auto-scale-lr counts images: a step of the schedule reads 512.
auto_scale_lr = dict(base_batch_size=512)
