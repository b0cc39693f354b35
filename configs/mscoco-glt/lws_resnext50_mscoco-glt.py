# LWS (Kang et al., 2020), stage 2 on Train-GLT of MSCOCO-GLT: the whole
# stage-1 cross-entropy model is loaded; backbone and classifier stay fixed
# and only one scale per class is learned, with class-balanced sampling.
_base_ = ['./crt_resnext50_mscoco-glt.py']

load_from = 'work_dirs/ce_resnext50_mscoco-glt/epoch_100.pth'
model = dict(
    backbone=dict(init_cfg=None), head=dict(type='LWSLinearClsHead'))
