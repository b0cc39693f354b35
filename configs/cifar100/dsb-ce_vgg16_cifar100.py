# Paper Table 3, CIFAR-100, DSB-CE: VGG-16 with batch
# norm (at 32 px its last stage is 1x1). Sample-balanced data, so alpha = 1.
_base_ = ['./ce_vgg16_cifar100.py', '../_base_/dsb_hook_balanced.py']

model = dict(head=dict(type='DSBLinearClsHead'))
