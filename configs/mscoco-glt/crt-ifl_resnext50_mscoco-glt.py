# cRT + IFL of paper Table 11: cRT (frozen backbone, new linear classifier,
# class-balanced sampling, 10 epochs) on the features learned with CE + IFL.
_base_ = ['./crt_resnext50_mscoco-glt.py']

model = dict(
    backbone=dict(init_cfg=dict(
        checkpoint='work_dirs/ce-ifl_resnext50_mscoco-glt/epoch_100.pth')))
