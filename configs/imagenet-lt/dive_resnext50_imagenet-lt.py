# DiVE (He, Wu and Wei, ICCV 2021): a ResNeXt-50 student distils the
# virtual examples of a frozen ResNeXt-50 teacher trained with balanced
# softmax (bs_resnext50_imagenet-lt.py, train it first):
#   L = (1 - 0.5) * BSCE(z_s, y) + 0.5 * 3^2 * KL(t || softmax(z_s / 3)),
#   t = softmax(z_t / 3)^0.5, renormalised.
# The teacher is not saved in the student's checkpoints.
# Paper Table 2, ImageNet-LT, ResNeXt-50 (32x4d).
_base_ = ['../_base_/table2_resnext50_imagenet-lt.py']

model = dict(
    type='DiVEClassifier',
    teacher_checkpoint='work_dirs/bs_resnext50_imagenet-lt/epoch_90.pth',
    head=dict(
        loss=dict(
            type='DiVELoss', temperature=3.0, power=0.5, distill_weight=0.5,
            base_loss=dict(type='BalancedSoftmaxLoss'), _delete_=True)))
