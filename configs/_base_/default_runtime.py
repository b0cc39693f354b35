# mmdsb's runtime: mmpretrain's default runtime (default_scope, default_hooks,
# env_cfg, visualizer, log_level, load_from, resume, randomness) plus
# InvalidLossHook, which stops the run with an error naming the iteration
# and the loss terms at the first NaN or infinite training loss (set
# action='skip' to skip such steps instead). It is a default hook (a dict
# entry), so it survives inheritance next to custom_hooks such as DSBHook.
#
# Composing pieces: mmengine forbids a top-level key in two bases of one
# config, so every key has one owner among a config's bases:
#   runtime keys: this file, lt_runtime.py or the runtime inside a complete
#     mmpretrain config, exactly one of them (next to a complete mmpretrain
#     config, add InvalidLossHook in your own config's default_hooks);
#   custom_hooks, dsb_weighter: dsb_runtime.py, dsb_hook.py or
#     dsb_hook_balanced.py, one of them;
#   custom_imports: no mmdsb piece; it is yours. mmdsb's tools (and mim)
#     import mmdsb, and so must any other script that loads 'mmdsb::'
#     configs; list 'mmdsb' in custom_imports for other tools.
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_hooks = dict(
    invalid_loss=dict(type='InvalidLossHook', action='raise'))
