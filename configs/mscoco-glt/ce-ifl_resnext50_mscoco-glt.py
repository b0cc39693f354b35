# CE + IFL on Train-GLT of MSCOCO-GLT: cross-entropy plus IFL's centre loss,
# each batch half from the instance-balanced and half from the re-weighted
# environment (IFL's released code: centre weight 0 / 0.001 / 0.005 from
# epochs 0 / 60 / 80, environment rebuilt after epochs 60 and 80 with
# sample_scale 4). Not a row of paper Table 11: stage 1 of cRT + IFL and
# LWS + IFL (IFL as the feature backbone of the decoupled methods).
_base_ = ['./ce_resnext50_mscoco-glt.py']

model = dict(
    head=dict(
        type='IFLLinearClsHead',
        center_loss=dict(
            type='IFLCenterLoss',
            milestones=[0, 60, 80],
            weights=[0.0, 0.001, 0.005],
            center_lr=0.5)))
# batch_size 64 per GPU: 32 images of each environment (IFL: 128 + 128).
train_dataloader = dict(sampler=dict(type='IFLEnvSampler', _delete_=True))
default_hooks = dict(
    ifl=dict(type='IFLHook', update_milestones=[60, 80], sample_scale=4.0))
