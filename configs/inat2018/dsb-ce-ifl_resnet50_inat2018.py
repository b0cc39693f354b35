# DSB-CE + IFL of paper Table 2 on iNaturalist 2018: DSB-CE plus IFL's
# centre loss and environments, IFL's 100-epoch schedule kept at the same
# fractions (60 %, 80 %) of this schedule's 90 epochs.
_base_ = ['../_base_/table2_resnet50_inat2018.py', '../_base_/dsb_hook.py']

model = dict(
    head=dict(
        type='DSBIFLLinearClsHead',
        center_loss=dict(
            type='IFLCenterLoss',
            milestones=[0, 54, 72],
            weights=[0.0, 0.001, 0.005],
            center_lr=0.5)))
# batch_size 64 per GPU: 32 images of each environment.
train_dataloader = dict(sampler=dict(type='IFLEnvSampler', _delete_=True))
default_hooks = dict(
    ifl=dict(type='IFLHook', update_milestones=[54, 72], sample_scale=4.0))
