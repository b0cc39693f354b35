# LDAM on Train-GLT of MSCOCO-GLT as in IFL's benchmark: cosine classifier,
# margins ~ n^(-1/4) up to 0.5, s = 30, class-balanced re-weighting (beta
# 0.9999) from epoch 80, weight decay 2e-4, lr x0.01 at epochs 80 and 90.
_base_ = ['../_base_/table11_resnext50_mscoco-glt.py']

model = dict(
    head=dict(
        type='CosineClsHead',
        loss=dict(type='LDAMLoss', max_margin=0.5, scale=30.0, drw_epoch=80,
                  _delete_=True)))
optim_wrapper = dict(optimizer=dict(weight_decay=2e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[80, 90], gamma=0.01,
    _delete_=True)
