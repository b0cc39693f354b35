# DSB on top of any mmpretrain config: the dynamic re-weighting framework of
# dsb_hook.py (DSBHook and the semantic-scale weighter). It sets only
# custom_hooks and dsb_weighter, so it composes with a complete mmpretrain
# config, with default_runtime.py or lt_runtime.py and with a piece of your
# own that sets custom_imports (see default_runtime.py for the rule). The
# head must also become a DSB head, e.g.
#   model = dict(head=dict(type='DSBLinearClsHead'))
# mmdsb must be imported: mmdsb's tools and mim do it, and so does any
# script that loads it as 'mmdsb::_base_/dsb_runtime.py'; with other tools
# set custom_imports = dict(imports=['mmdsb'], allow_failed_imports=False).
_base_ = ['./dsb_hook.py']
