# mmpretrain's default runtime for mmdsb configs: imports mmdsb and adds
# InvalidLossHook, which stops the run with an error naming the iteration
# and the loss terms at the first NaN or infinite training loss (set
# action='skip' to skip such steps instead). It is a default hook (a dict
# entry), so it survives inheritance next to custom_hooks such as DSBHook.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmdsb'], allow_failed_imports=False)
default_hooks = dict(
    invalid_loss=dict(type='InvalidLossHook', action='raise'))
