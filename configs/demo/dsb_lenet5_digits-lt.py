# DSB cross-entropy on long-tailed digits: the plain twin with re-weighting
# by the semantic scales of the feature bank from epoch 6 on.
_base_ = ['./ce_lenet5_digits-lt.py']

custom_hooks = [
    dict(type='DSBHook', warmup_epochs=5, reweight=True,
         weighter=dict(type='SemanticScaleWeighter', alpha=2.0)),
]
