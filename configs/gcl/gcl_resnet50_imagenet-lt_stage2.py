# GCL stage 2 on ImageNet-LT: classifier re-training from the stage-1
# checkpoint with the backbone frozen (weights and BN statistics), CBEN
# sampling and the GCL loss; thesis Table 5.1: 10 epochs, cosine schedule
# from lr 0.1.
_base_ = ['./gcl_resnet50_imagenet-lt_stage1.py']

load_from = 'work_dirs/gcl_resnet50_imagenet-lt_stage1/epoch_200.pth'
model = dict(backbone=dict(frozen_stages=4, norm_eval=True))
train_dataloader = dict(sampler=dict(type='CBENSampler', a=0.999, b=0.0009,
                                     _delete_=True))
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=10, begin=0, end=10,
    convert_to_iter_based=True, _delete_=True)
train_cfg = dict(max_epochs=10, val_interval=1)
