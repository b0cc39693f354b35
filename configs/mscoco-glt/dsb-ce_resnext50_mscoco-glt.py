# DSB-CE on Train-GLT of MSCOCO-GLT; also stage 1 of DSB-cRT and DSB-LWS.
_base_ = ['./ce_resnext50_mscoco-glt.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
