# RIDE with distillation: the 3-expert RIDE of
# ride_resnet50_inat2018.py learns from a frozen 6-expert RIDE teacher
# (ride-6experts_resnet50_inat2018.py, train it first). DiVEClassifier
# hands the teacher's mean logits t to RIDELoss, whose loss L becomes, as
# the authors' RIDELossWithDistill,
#   E * (L + f_dis * tau^2 * KL(softmax(t / tau) || softmax(z / tau))),
# z the student's mean logits, tau = 1.5, f_dis = 1, E = 3 experts. The
# teacher is not saved in the student's checkpoints. Schedule and loss
# otherwise as the 3-expert config.
# iNaturalist 2018, ResNet-50.
_base_ = ['./ride_resnet50_inat2018.py']

model = dict(
    type='DiVEClassifier',
    teacher_checkpoint=(
        'work_dirs/ride-6experts_resnet50_inat2018/epoch_100.pth'),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='RIDEResNet',
            trunk=dict(type='ResNet', depth=50),
            num_experts=6,
            expert_channels=(768, 1536)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='RIDEHead',
            num_classes=8142,
            in_channels=1536,
            num_experts=6,
            scale=30.0,
            loss=dict(type='RIDELoss'))),
    head=dict(loss=dict(distill_factor=1.0, distill_temperature=1.5)))
