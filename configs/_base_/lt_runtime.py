# mmdsb's default runtime (with InvalidLossHook) plus ClassCountsHook, which
# reads the class counts from the training dataset (never typed into a
# config) and passes them, and the epoch (FBL, KPS-GA, LDAM-DRW), to the
# losses and heads. It is a default hook (a dict entry), so it survives
# inheritance next to custom_hooks such as DSBHook.
_base_ = ['./default_runtime.py']

default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
