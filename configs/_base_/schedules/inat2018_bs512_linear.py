# Paper Table 2 on iNaturalist 2018: SGD, total batch 512, lr 0.1 with
# linear decay, momentum 0.9, weight decay 5e-4. The paper does not state
# the number of epochs; 90 as on ImageNet-LT.
_base_ = ['./imagenet-lt_bs256_linear.py']

auto_scale_lr = dict(base_batch_size=512)
