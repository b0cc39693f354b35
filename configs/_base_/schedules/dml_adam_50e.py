# Deep metric learning schedule (paper App. D.5: Adam, batch size 32, 50
# epochs, the rest as in NormSoftmax and SoftTriple). From the SoftTriple
# code (train.py): lr 1e-4 for the network, 1e-2 for the class centres,
# Adam eps 0.01, weight decay 1e-4 on all parameters, every lr x0.1 at the
# start of epochs 20 and 40 (1-based). The NormSoftmax class weights are
# proxies like the centres and get their lr (1e-2); the linear embedding
# layer belongs to the network (1e-4), as in the SoftTriple code.
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=1e-4, eps=0.01, weight_decay=1e-4),
    paramwise_cfg=dict(
        custom_keys={
            'head.centers': dict(lr_mult=100.0),  # SoftTriple centres
            'head.weight': dict(lr_mult=100.0),  # NormSoftmax proxies
        }))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[19, 39], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
