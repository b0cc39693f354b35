# DSB on top of any mmpretrain config: import mmdsb (registers heads, losses,
# hook and weighter) and run the dynamic re-weighting framework. The head
# must also become a DSB head, e.g.
#   model = dict(head=dict(type='DSBLinearClsHead'))
custom_imports = dict(imports=['mmdsb'], allow_failed_imports=False)

dsb_weighter = dict(
    type='SemanticScaleWeighter',
    alpha=2.0,  # 2 for long-tailed data, 1 for sample-balanced data
    interclass=True,
    eps=1.0,
    normalize='mean',  # weights average 1, so the learning rate keeps its
    bank_dim=64,       # meaning; 'sum' is the paper's sum-to-one form
    max_weight_ratio=None)

custom_hooks = [
    dict(type='DSBHook', weighter=dsb_weighter, warmup_epochs=5),
]
