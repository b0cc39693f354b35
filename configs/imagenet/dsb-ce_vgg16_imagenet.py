# Paper Table 3, ImageNet, DSB-CE: VGG-16; the semantic scales are measured
# on the 4096-d output of its second fully connected layer. Sample-balanced
# data, so alpha = 1.
_base_ = ['./ce_vgg16_imagenet.py', '../_base_/dsb_hook_balanced.py']

model = dict(head=dict(type='DSBStackedLinearClsHead'))
