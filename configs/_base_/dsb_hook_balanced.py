# The DSB framework for sample-balanced data: alpha = 1 (paper Sec. 3.4.1),
# other settings as in dsb_hook.py. It owns custom_hooks, like dsb_hook.py:
# inherit one of the two.
custom_hooks = [
    dict(
        type='DSBHook',
        weighter=dict(type='SemanticScaleWeighter', alpha=1.0),
        warmup_epochs=5),
]
