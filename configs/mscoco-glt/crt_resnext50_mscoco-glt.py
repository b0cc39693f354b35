# cRT (Kang et al., 2020), stage 2 on Train-GLT of MSCOCO-GLT: the backbone
# of the stage-1 cross-entropy model, frozen (weights and BN statistics),
# and a freshly initialised linear classifier trained with class-balanced
# sampling for 10 epochs (IFL's setting: lr 0.1, cosine decay).
_base_ = ['./ce_resnext50_mscoco-glt.py']

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', prefix='backbone.',
            checkpoint='work_dirs/ce_resnext50_mscoco-glt/epoch_100.pth')))
train_dataloader = dict(
    sampler=dict(type='ClassAwareSampler', _delete_=True))
param_scheduler = dict(T_max=10, end=10)
train_cfg = dict(max_epochs=10, val_interval=1)
