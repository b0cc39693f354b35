# DSB-GCL stage 1 on CIFAR-100-LT (rho 100): GCL with DSB loss weights. Stage 2
# re-trains the classifier from its checkpoint: set load_from of
# gcl_resnet32_cifar100-lt-r100_stage2.py to this run's last checkpoint.
_base_ = ['./gcl_resnet32_cifar100-lt-r100_stage1.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead'))
