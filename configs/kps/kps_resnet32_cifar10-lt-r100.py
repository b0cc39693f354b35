# KPS loss with GA (thesis Ch. 3) on CIFAR-10-LT, rho = 100, thesis Table 3.1:
# ResNet-32, batch 64, lr 0.1 (5 warm-up epochs), weight decay 2e-4, x0.01
# at epochs 160 and 180, 200 epochs. Cosine classifier; r, m and s from the
# class counts (eqs. 3.27-3.30, n_base 50, s_base 15, m_max 0.5); GA (per-class
# scale s_y) after 120 epochs, the authors' switch point (the thesis gives
# none).
_base_ = [
    '../_base_/models/resnet32_cifar.py',
    '../_base_/datasets/cifar10-lt-r100.py',
    '../_base_/schedules/cifar-lt_200e.py',
    '../_base_/lt_runtime.py',
]

model = dict(
    head=dict(
        type='CosineClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(
            type='KPSLoss', n_base=50, s_base=15, m_max=0.5, ga_epoch=120)))
train_dataloader = dict(batch_size=64)
auto_scale_lr = dict(base_batch_size=64)
