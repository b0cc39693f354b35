# mmdsb's runtime for long-tailed data: default_runtime.py (mmpretrain's
# default runtime with InvalidLossHook) plus ClassCountsHook, which reads
# the class counts from the training dataset (never typed into a config)
# and passes them, and the epoch (FBL, KPS-GA, LDAM-DRW), to the losses and
# heads. Both are default hooks (dict entries), so they survive inheritance
# next to custom_hooks such as DSBHook. It owns the runtime keys, like
# default_runtime.py (see there for the composition rule): use it in place
# of mmpretrain's default runtime; next to a complete mmpretrain config add
#   default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
# to your own config instead.
_base_ = ['./default_runtime.py']

default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
