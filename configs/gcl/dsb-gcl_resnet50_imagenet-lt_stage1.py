# DSB-GCL stage 1 on ImageNet-LT: GCL with DSB loss weights. Stage 2
# re-trains the classifier: set load_from of gcl_resnet50_imagenet-lt_stage2.py
# to this run's last checkpoint.
_base_ = ['./gcl_resnet50_imagenet-lt_stage1.py', '../_base_/dsb_hook.py']

model = dict(head=dict(type='DSBCosineClsHead'))
