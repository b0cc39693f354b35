# Paper Table 11 (MSCOCO-GLT) in IFL's setting, which the paper adopts:
# ResNeXt-50 (32x4d) trained from scratch, 100 epochs, total batch 256, SGD
# lr 0.1 with cosine decay to 0, weight decay 5e-4 and momentum 0: IFL's
# published numbers were produced without momentum (its README asks to
# remove momentum to reproduce them), and the paper compares with them.
_base_ = [
    'mmpretrain::_base_/models/resnext50_32x4d.py',
    './datasets/mscoco-glt_bs64.py',
    './lt_runtime.py',
]

model = dict(head=dict(num_classes=29, topk=(1, )))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=5e-4))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=100, begin=0, end=100,
    eta_min=0.0)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
