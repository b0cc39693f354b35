# DSB twin of the detection demo: the same detector, its box head's
# cross-entropy re-weighted by the semantic scales of the digit instances
# from epoch 3 on.
_base_ = ['./ce_faster-rcnn_tiny-r18_fpn_digits-lvis.py']

custom_hooks = [
    dict(type='DSBHook', warmup_epochs=2, reweight=True,
         weighter={{_base_.dsb_weighter}}),
]
