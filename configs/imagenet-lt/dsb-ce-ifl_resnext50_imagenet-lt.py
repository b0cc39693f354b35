# DSB-CE + IFL of paper Table 2 on ImageNet-LT: DSB-CE (DSB weights on the
# cross-entropy term) plus IFL's centre loss and environments. IFL's
# schedule (100 epochs: centre weight 0 / 0.001 / 0.005 from epochs
# 0 / 60 / 80, environment rebuilt after epochs 60 and 80) is kept at the
# same fractions (60 %, 80 %) of this schedule's 90 epochs.
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py', '../_base_/dsb_hook.py']

model = dict(
    head=dict(
        type='DSBIFLLinearClsHead',
        center_loss=dict(
            type='IFLCenterLoss',
            milestones=[0, 54, 72],
            weights=[0.0, 0.001, 0.005],
            center_lr=0.5)))
# batch_size 32 per GPU: 16 images of each environment.
train_dataloader = dict(sampler=dict(type='IFLEnvSampler', _delete_=True))
default_hooks = dict(
    ifl=dict(type='IFLHook', update_milestones=[54, 72], sample_scale=4.0))
