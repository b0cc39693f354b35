# ALT protocol of MSCOCO-GLT: crt_resnext50_mscoco-glt.py trained on
# Train-CBL (class-balanced) and evaluated on its Test-GBL.
_base_ = ['./crt_resnext50_mscoco-glt.py']

train_dataloader = dict(dataset=dict(protocol='alt'))
val_dataloader = dict(dataset=dict(protocol='alt'))
test_dataloader = val_dataloader
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='work_dirs/ce_resnext50_mscoco-glt-alt/epoch_100.pth')))
