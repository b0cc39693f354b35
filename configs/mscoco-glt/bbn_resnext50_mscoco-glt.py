# BBN (Zhou et al., CVPR 2020) on Train-GLT of MSCOCO-GLT (paper Table 11,
# IFL's setting): ResNeXt-50 with its last residual block split into a
# conventional branch (uniform sampler) and a re-balancing branch (reversed
# sampler), alpha = 1 - (epoch / 100)^2 over the 100 epochs. Batches hold
# 64 (uniform, reversed) pairs per GPU, so each branch sees 256 images per
# step.
_base_ = ['../_base_/table11_resnext50_mscoco-glt.py']

model = dict(type='BBNClassifier', head=dict(in_channels=4096))
train_dataloader = dict(
    batch_size=128, sampler=dict(type='BilateralSampler', _delete_=True))
# --auto-scale-lr counts images: a step of the schedule reads 512.
auto_scale_lr = dict(base_batch_size=512)
