# The DSB re-weighting framework for detectors, one bank entry per
# ground-truth instance. For configs that already import mmdsb.det;
# otherwise inherit det_dsb_runtime.py. Stage 1 fills the bank with one epoch
# of instances (after repeat-factor sampling), stage 2 keeps it current,
# re-weighting starts at epoch 3.
dsb_weighter = dict(
    type='SemanticScaleWeighter',
    alpha=2.0,  # 2 for long-tailed data
    interclass=True,
    eps=1.0,
    normalize='mean',  # weights average 1: the learning rate keeps its meaning
    bank_dim=64,  # box-head features (1024-d) are pooled to 64 channels
    max_weight_ratio=10.0)  # no class weighs more than 10x another

custom_hooks = [
    dict(type='DSBHook', weighter=dsb_weighter, warmup_epochs=2),
]
