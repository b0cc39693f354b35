# DSB-CE for the ALT protocol of MSCOCO-GLT: trained on the class-balanced
# Train-CBL, so alpha = 1; also stage 1 of DSB-cRT and DSB-LWS there.
_base_ = ['./ce_resnext50_mscoco-glt-alt.py', '../_base_/dsb_hook_balanced.py']

model = dict(head=dict(type='DSBLinearClsHead'))
