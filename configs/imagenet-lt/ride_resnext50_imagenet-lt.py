# RIDE (Wang et al., ICLR 2021): ResNeXt-50 (32x4d) with shared stem,
# layer1 and layer2 and 3 experts of layer3 + layer4 at RIDE's reduced
# width (192 / 384 planes, 1536-d features), each with a normalised
# classifier (s = 30); prediction = mean of the experts' logits. Loss: per
# expert LDAM (margins up to 0.5) and a diversity term (factor -0.2); after
# epoch 80 DRW weights (beta 0.9999) and distribution-aware temperatures
# (factor 0.02). Schedule of the authors' ImageNet-LT config: 100 epochs,
# SGD lr 0.1 (batch 256), Nesterov momentum 0.9, weight decay 2e-4, 5
# warm-up epochs, lr x0.1 at epochs 60 and 80, colour jitter (0.4). No
# distillation, no router.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    backbone=dict(
        type='RIDEResNet',
        trunk=dict(type='ResNeXt', depth=50, groups=32, width_per_group=4),
        num_experts=3,
        expert_channels=(768, 1536),
        _delete_=True),
    head=dict(
        type='RIDEHead',
        num_classes=1000,
        in_channels=1536,
        num_experts=3,
        scale=30.0,
        loss=dict(type='RIDELoss', max_margin=0.5, margin_scale=30.0,
                  drw_epoch=80, diversity_factor=-0.2,
                  temperature_factor=0.02),
        _delete_=True))

optim_wrapper = dict(
    optimizer=dict(lr=0.1, weight_decay=2e-4, nesterov=True))
param_scheduler = [
    # lr x (1 + epoch) / 5 in the first 5 epochs, as the authors' CustomLR
    dict(type='LinearLR', start_factor=0.2, end_factor=1.0, by_epoch=True,
         begin=0, end=5),
    dict(type='MultiStepLR', milestones=[60, 80], gamma=0.1, by_epoch=True,
         begin=0, end=100),
]
train_cfg = dict(max_epochs=100)
# The authors' ImageNet-LT loader adds colour jitter to the crop and flip.
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4),
        dict(type='PackInputs'),
    ]))
