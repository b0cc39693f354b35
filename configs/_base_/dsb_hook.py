# The DSB re-weighting framework: the feature bank and its three stages
# (DSBHook) and the semantic-scale weighter. For configs that already import
# mmdsb; otherwise inherit dsb_runtime.py.
dsb_weighter = dict(
    type='SemanticScaleWeighter',
    alpha=2.0,  # 2 for long-tailed data, 1 for sample-balanced data
    interclass=True,  # False: S = S' (no inter-class interference)
    eps=1.0,
    normalize='mean',  # weights average 1, so the learning rate keeps its
    bank_dim=64,  # meaning; 'sum' is the paper's sum-to-one form
    max_weight_ratio=None)

custom_hooks = [
    dict(type='DSBHook', weighter=dsb_weighter, warmup_epochs=5),
]
