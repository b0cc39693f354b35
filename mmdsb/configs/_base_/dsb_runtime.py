# DSB on top of any pure-Python (read_base) mmpretrain config: the dynamic
# re-weighting framework, DSBHook with the semantic-scale weighter, alpha 2
# for long-tailed data (1 for sample-balanced data), as in the text-style
# configs/_base_/dsb_runtime.py. It sets only custom_hooks and dsb_weighter;
# the head must also become a DSB head:
#   from mmdsb.models import DSBLinearClsHead
#   model.head.type = DSBLinearClsHead
# The class names are imported, so mmdsb is imported with the config.
from mmdsb.engine import DSBHook, SemanticScaleWeighter

dsb_weighter = dict(
    type=SemanticScaleWeighter,
    alpha=2.0,  # 2 for long-tailed data, 1 for sample-balanced data
    interclass=True,  # False: S = S' (no inter-class interference)
    eps=1.0,
    normalize='mean',  # weights average 1, so the learning rate keeps its
    bank_dim=64,  # meaning; 'sum' is the paper's sum-to-one form
    max_weight_ratio=10.0)  # no class weighs more than 10x another

custom_hooks = [
    dict(type=DSBHook, weighter=dsb_weighter, warmup_epochs=5),
]
