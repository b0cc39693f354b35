# DSB-LWS of paper Table 11: LWS on the model learned with DSB-CE.
_base_ = ['./lws_resnext50_mscoco-glt.py']

load_from = 'work_dirs/dsb-ce_resnext50_mscoco-glt/epoch_100.pth'
