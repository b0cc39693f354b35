# DSB-BLSoftmax + IFL for the ALT protocol of MSCOCO-GLT: trained on the
# class-balanced Train-CBL, so alpha = 1.
_base_ = [
    './bs-ifl_resnext50_mscoco-glt-alt.py', '../_base_/dsb_hook_balanced.py'
]

model = dict(head=dict(type='DSBIFLLinearClsHead'))
