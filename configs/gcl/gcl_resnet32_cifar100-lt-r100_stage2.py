# GCL stage 2, classifier re-training (cRT-style, thesis Algorithm 5.1) on
# CIFAR-100-LT: starts from the stage-1 checkpoint, freezes the whole backbone
# (weights and BN statistics), draws batches with the CBEN sampler (a =
# 0.999, b = 0.0009) and trains only the classifier with the same GCL loss.
# Thesis Table 5.1: 10 epochs, cosine schedule; its "0.2" is read as the
# initial lr (the authors' code uses lr 0.2 in this stage).
_base_ = ['./gcl_resnet32_cifar100-lt-r100_stage1.py']

load_from = 'work_dirs/gcl_resnet32_cifar100-lt-r100_stage1/epoch_200.pth'
model = dict(backbone=dict(frozen_stages=3, norm_eval=True))
train_dataloader = dict(sampler=dict(type='CBENSampler', a=0.999, b=0.0009,
                                     _delete_=True))
optim_wrapper = dict(optimizer=dict(lr=0.2))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=10, begin=0,
         end=10, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=10, val_interval=1)
