"""The multi-expert ResNet / ResNeXt of RIDE (Wang et al., ICLR 2021)."""
from typing import Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule, constant_init
from mmpretrain.models.backbones import ResNet
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_int

__all__ = ['RIDEResNet']


@MODELS.register_module()
class RIDEResNet(BaseModule):
    """Shared early stages and ``num_experts`` copies of the last two.

    The trunk (stem, ``layer1``, ``layer2``) is an mmpretrain ``ResNet`` or
    ``ResNeXt`` cut after its second stage and runs once per batch; each
    expert is its own ``layer3`` and ``layer4``, built by the trunk's
    ``make_res_layer`` (same block, groups, norm and style), at the width
    ``expert_channels``. RIDE's ``reduce_dimension`` gives the bottleneck
    networks 192 and 384 planes, i.e. ``expert_channels=(768, 1536)``
    instead of ResNet-50's (1024, 2048), so that three experts cost about
    as much as one full network.

    The output is one feature map per expert, ``(x_1, ..., x_E)``; a neck
    such as ``GlobalAveragePooling`` pools each, and :class:`RIDEHead`
    classifies each with its own classifier.

    Args:
        trunk: config of the mmpretrain ``ResNet`` (or subclass, e.g.
            ``ResNeXt``) whose first two stages are shared; ``num_stages``,
            ``out_indices``, ``strides`` and ``dilations`` are set here.
        num_experts: number of experts (3 in RIDE's main results).
        expert_channels: output channels of each expert's ``layer3`` and
            ``layer4``.
        frozen: freeze every parameter and keep every batch norm in eval
            mode (RIDE's second stage trains the router alone).
        init_cfg: initialisation of the experts (the trunk keeps its own).
    """

    def __init__(self,
                 trunk: dict = dict(type='ResNet', depth=50),
                 num_experts: int = 3,
                 expert_channels: Sequence[int] = (768, 1536),
                 frozen: bool = False,
                 init_cfg=[
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1,
                          layer=['_BatchNorm', 'GroupNorm'])
                 ]):
        super().__init__(init_cfg)
        self.num_experts = positive_int(num_experts, 'num_experts',
                                        'RIDEResNet')
        expert_channels = tuple(expert_channels)
        if len(expert_channels) != 2:
            raise ValueError(
                'RIDEResNet: expert_channels must give the output channels '
                f'of layer3 and layer4, got {expert_channels!r}')
        for c in expert_channels:
            positive_int(c, 'expert_channels', 'RIDEResNet')
        self.expert_channels = expert_channels
        trunk = dict(trunk, num_stages=2, out_indices=(1, ), strides=(1, 2),
                     dilations=(1, 1))
        self.trunk = MODELS.build(trunk)
        if not isinstance(self.trunk, ResNet):
            raise TypeError(
                'RIDEResNet: trunk must be an mmpretrain ResNet or ResNeXt, '
                f'got {type(self.trunk).__name__}')
        blocks = type(self.trunk).arch_settings[self.trunk.depth][1][2:4]
        self.experts = nn.ModuleList(
            self._make_expert(blocks) for _ in range(self.num_experts))
        self.frozen = bool(frozen)
        if self.frozen:
            self.requires_grad_(False)
            self.train(False)

    def _make_expert(self, blocks: Sequence[int]) -> nn.Sequential:
        t = self.trunk
        layers, in_channels = [], t.feat_dim
        for num_blocks, out_channels in zip(blocks, self.expert_channels):
            layers.append(
                t.make_res_layer(
                    block=t.block,
                    num_blocks=num_blocks,
                    in_channels=in_channels,
                    out_channels=out_channels,
                    expansion=t.expansion,
                    stride=2,
                    dilation=1,
                    style=t.style,
                    avg_down=t.avg_down,
                    with_cp=t.with_cp,
                    conv_cfg=t.conv_cfg,
                    norm_cfg=t.norm_cfg))
            in_channels = out_channels
        return nn.Sequential(*layers)

    @property
    def feat_dim(self) -> int:
        """Channels of each expert's output."""
        return self.expert_channels[1]

    def init_weights(self) -> None:
        super().init_weights()
        # The experts' blocks start as identities where the trunk's do
        # (mmpretrain's zero_init_residual).
        if self.trunk.zero_init_residual:
            for m in self.experts.modules():
                if isinstance(m, Bottleneck):
                    constant_init(m.norm3, 0)
                elif isinstance(m, BasicBlock):
                    constant_init(m.norm2, 0)

    def train(self, mode: bool = True) -> 'RIDEResNet':
        super().train(mode and not self.frozen)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        shared = self.trunk(x)[-1]
        return tuple(expert(shared) for expert in self.experts)
