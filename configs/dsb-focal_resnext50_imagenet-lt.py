# DSB-Focal of paper Table 2 on ImageNet-LT: focal loss with alpha_t = a_y,
# the DSB weight of the sample's class.
_base_ = ['./focal_resnext50_imagenet-lt.py', '_base_/dsb_hook.py']

model = dict(head=dict(type='DSBLinearClsHead'))
