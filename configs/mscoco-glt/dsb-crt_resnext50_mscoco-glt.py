# DSB-cRT of paper Table 11: cRT on the features learned with DSB-CE.
_base_ = ['./crt_resnext50_mscoco-glt.py']

model = dict(
    backbone=dict(init_cfg=dict(
        checkpoint='work_dirs/dsb-ce_resnext50_mscoco-glt/epoch_100.pth')))
