# ALT protocol of MSCOCO-GLT: bbn_resnext50_mscoco-glt.py trained on
# Train-CBL (class-balanced, where the reversed sampler draws every class
# equally often) and evaluated on its Test-GBL.
_base_ = ['./bbn_resnext50_mscoco-glt.py']

train_dataloader = dict(dataset=dict(protocol='alt'))
val_dataloader = dict(dataset=dict(protocol='alt'))
test_dataloader = val_dataloader
