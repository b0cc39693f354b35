# LWS + IFL of paper Table 11: LWS on the model learned with CE + IFL (its
# classifier loads into LWSLinearClsHead; the centres are not used).
_base_ = ['./lws_resnext50_mscoco-glt.py']

load_from = 'work_dirs/ce-ifl_resnext50_mscoco-glt/epoch_100.pth'
