# The DSB re-weighting framework: the feature bank and its three stages
# (DSBHook) and the semantic-scale weighter, for long-tailed data (alpha 2).
# It owns custom_hooks and dsb_weighter (see default_runtime.py for how the
# pieces compose); dsb_runtime.py is the same piece under the name for
# adding DSB to any mmpretrain config.
dsb_weighter = dict(
    type='SemanticScaleWeighter',
    alpha=2.0,  # 2 for long-tailed data, 1 for sample-balanced data
    interclass=True,  # False: S = S' (no inter-class interference)
    eps=1.0,
    normalize='mean',  # weights average 1, so the learning rate keeps its
    bank_dim=64,  # meaning; 'sum' is the paper's sum-to-one form
    max_weight_ratio=10.0)  # no class weighs more than 10x another

custom_hooks = [
    dict(type='DSBHook', weighter=dsb_weighter, warmup_epochs=5),
]
