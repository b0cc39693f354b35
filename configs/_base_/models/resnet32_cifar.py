# ResNet-32 for CIFAR (16/32/64 channels, 64-d feature) with a linear head;
# the method configs replace the head.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet32CIFAR'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss'),
    ))
