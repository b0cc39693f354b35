# BBN (Zhou et al., CVPR 2020): the last residual block of ResNet-50 split
# into a conventional branch (uniform sampler) and a re-balancing branch
# (reversed sampler), cumulative learning alpha = 1 - (epoch / 100)^2:
# the authors' code divides by 100 for a 90-epoch schedule, the schedule
# of their published 66.3. Batches hold 64 (uniform, reversed) pairs per
# GPU (8 x 64 = 512 pairs), so each branch sees Table 2's 512 images.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    type='BBNClassifier', decay_epochs=100, head=dict(in_channels=4096))
train_dataloader = dict(
    batch_size=128, sampler=dict(type='BilateralSampler', _delete_=True))
# --auto-scale-lr counts images: a step of the schedule reads 1024.
auto_scale_lr = dict(base_batch_size=1024)
