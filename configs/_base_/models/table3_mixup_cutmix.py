# The classifier of paper Table 3: pooled backbone features, a linear
# classifier trained on soft targets, and Mixup (alpha 0.8) or CutMix
# (alpha 1.0), one of them per batch. The dataset pieces set num_classes
# and the method configs add the backbone.
model = dict(
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        loss=dict(type='CrossEntropyLoss', use_soft=True),
        topk=(1, 5)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
