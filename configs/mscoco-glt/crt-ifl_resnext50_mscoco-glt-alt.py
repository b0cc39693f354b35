# cRT + IFL for the ALT protocol of MSCOCO-GLT: cRT on the features learned
# with CE + IFL on Train-CBL.
_base_ = ['./crt_resnext50_mscoco-glt-alt.py']

model = dict(backbone=dict(init_cfg=dict(
    checkpoint='work_dirs/ce-ifl_resnext50_mscoco-glt-alt/epoch_100.pth')))
