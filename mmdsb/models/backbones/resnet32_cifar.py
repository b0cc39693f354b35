"""ResNet-32 for CIFAR, the backbone of the long-tailed CIFAR literature."""
from mmpretrain.models.backbones import ResNet_CIFAR
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.registry import MODELS

__all__ = ['ResNet32CIFAR']


@MODELS.register_module()
class ResNet32CIFAR(ResNet_CIFAR):
    """He et al.'s 6n+2 CIFAR ResNet with n = 5: a 3x3 stem of 16 channels
    and three stages of five basic blocks with 16, 32 and 64 channels
    (strides 1, 2, 2), 64-d output (after global pooling). mmpretrain's
    ``ResNet_CIFAR`` only offers the 4-stage ImageNet depths.

    The down-sampling shortcuts are 1x1 convolutions with BN (option B),
    mmpretrain's form; the LDAM code's zero-padding shortcut (option A) has
    no parameters, a small difference in capacity. ``frozen_stages=3`` with
    ``norm_eval=True`` freezes the whole network (classifier re-training).

    Args:
        in_channels: input channels (3).
        out_indices: stages whose outputs are returned (``(2, )``).
        frozen_stages, norm_eval, zero_init_residual, init_cfg, ...: as
            :class:`mmpretrain.models.ResNet`.
    """

    arch_settings = {32: (BasicBlock, (5, 5, 5))}

    def __init__(self, depth: int = 32, out_indices=(2, ), **kwargs):
        if depth != 32:
            raise ValueError(f'ResNet32CIFAR has depth 32, got {depth}')
        super().__init__(
            depth,
            stem_channels=16,
            base_channels=16,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=out_indices,
            **kwargs)
