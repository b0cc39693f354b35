# ALT protocol of MSCOCO-GLT: bs-ifl_resnext50_mscoco-glt.py trained on
# Train-CBL (class-balanced) and evaluated on its Test-GBL.
_base_ = ['./bs-ifl_resnext50_mscoco-glt.py']

train_dataloader = dict(dataset=dict(protocol='alt'))
val_dataloader = dict(dataset=dict(protocol='alt'))
test_dataloader = val_dataloader
