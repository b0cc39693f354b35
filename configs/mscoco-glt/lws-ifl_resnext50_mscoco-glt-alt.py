# LWS + IFL for the ALT protocol of MSCOCO-GLT: LWS on the model learned
# with CE + IFL on Train-CBL.
_base_ = ['./lws_resnext50_mscoco-glt-alt.py']

load_from = 'work_dirs/ce-ifl_resnext50_mscoco-glt-alt/epoch_100.pth'
