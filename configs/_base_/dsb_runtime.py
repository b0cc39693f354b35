# DSB on top of any mmpretrain config: import mmdsb (registers its heads,
# losses, datasets, metrics, hook and weighter) and run the dynamic
# re-weighting framework. The head must also become a DSB head, e.g.
#   model = dict(head=dict(type='DSBLinearClsHead'))
_base_ = ['./dsb_hook.py']

custom_imports = dict(imports=['mmdsb'], allow_failed_imports=False)
