# Paper Table 2 on iNaturalist 2018: ResNet-50, 8 GPUs x 64 = 512 images,
# SGD lr 0.1 with linear decay, momentum 0.9, weight decay 5e-4.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    './datasets/inat2018_bs64.py',
    './schedules/inat2018_bs512_linear.py',
    './lt_runtime.py',
]

model = dict(head=dict(num_classes=8142))
