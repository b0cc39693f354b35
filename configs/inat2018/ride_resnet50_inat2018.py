# RIDE (Wang et al., ICLR 2021): ResNet-50 with shared stem, layer1 and
# layer2 and 3 experts of layer3 + layer4 at RIDE's reduced width (192 /
# 384 planes, 1536-d features), each with a normalised classifier
# (s = 30); prediction = mean of the experts' logits. Loss: per expert
# LDAM (margins up to 0.5) and a diversity term (factor -0.2); after epoch
# 80 DRW weights (beta 0.9999) and distribution-aware temperatures
# (factor 0.015). Schedule of the authors' iNaturalist config: 100
# epochs, SGD lr 0.2 (batch 512), Nesterov momentum 0.9, weight decay
# 2e-4, 5 warm-up epochs, lr x0.1 at epochs 60 and 80. No distillation,
# no router.
# Paper Table 2, iNaturalist 2018, ResNet-50.
_base_ = ['../_base_/table2_resnet50_inat2018.py']

model = dict(
    backbone=dict(
        type='RIDEResNet',
        trunk=dict(type='ResNet', depth=50),
        num_experts=3,
        expert_channels=(768, 1536),
        _delete_=True),
    head=dict(
        type='RIDEHead',
        num_classes=8142,
        in_channels=1536,
        num_experts=3,
        scale=30.0,
        loss=dict(type='RIDELoss', max_margin=0.5, margin_scale=30.0,
                  drw_epoch=80, diversity_factor=-0.2,
                  temperature_factor=0.015),
        _delete_=True))

optim_wrapper = dict(
    optimizer=dict(lr=0.2, weight_decay=2e-4, nesterov=True))
param_scheduler = [
    # lr x (1 + epoch) / 5 in the first 5 epochs, as the authors' CustomLR
    dict(type='LinearLR', start_factor=0.2, end_factor=1.0, by_epoch=True,
         begin=0, end=5),
    dict(type='MultiStepLR', milestones=[60, 80], gamma=0.1, by_epoch=True,
         begin=0, end=100),
]
train_cfg = dict(max_epochs=100)
