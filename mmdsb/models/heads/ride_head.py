"""RIDE's classifiers: one normalised linear classifier per expert."""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...guards import positive_int, positive_number
from .dsb_head import check_sample_labels

__all__ = ['RIDEHead']


@MODELS.register_module()
class RIDEHead(ClsHead):
    """Classifies each expert's feature (:class:`RIDEResNet` and a pooling
    neck give one per expert) with the expert's own normalised linear
    classifier, ``z_i = s * cos(x_i, W_i)``; the prediction is the mean of
    the experts' logits. The loss (:class:`RIDELoss`) gets the logits of
    every expert, ``(N, E, C)``.

    Args:
        num_classes: number of classes.
        in_channels: channels of each expert's feature.
        num_experts: number of experts; the neck must give as many
            features.
        scale: ``s`` (30, RIDE's ``NormedLinear`` with ``s=30``).
        loss: config of the loss, which takes the experts' logits.
        init_cfg: initialisation config (the classifiers are initialised
            uniformly, as RIDE's ``NormedLinear``; only their directions
            matter).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_experts: int = 3,
                 scale: float = 30.0,
                 loss: dict = dict(type='RIDELoss'),
                 init_cfg=None):
        super().__init__(loss=loss, topk=(1, ), cal_acc=False,
                         init_cfg=init_cfg)
        owner = type(self).__name__
        self.num_classes = positive_int(num_classes, 'num_classes', owner)
        self.in_channels = positive_int(in_channels, 'in_channels', owner)
        self.num_experts = positive_int(num_experts, 'num_experts', owner)
        self.scale = positive_number(scale, 'scale', owner)
        self.weight = nn.Parameter(
            torch.empty(self.num_experts, self.num_classes,
                        self.in_channels).uniform_(-1, 1))

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        """The experts' features stacked as ``(N, E, in_channels)``."""
        if len(feats) != self.num_experts:
            raise ValueError(
                f'{type(self).__name__} has num_experts={self.num_experts} '
                f'but the neck gives {len(feats)} features; use RIDEResNet '
                'with as many experts')
        x = torch.stack([f.flatten(1) for f in feats], dim=1)
        if x.shape[2] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} has in_channels={self.in_channels} '
                f'but the expert features have {x.shape[2]} channels')
        return x

    def expert_logits(self, pre: Tensor) -> Tensor:
        """``(N, E, C)`` logits of every expert."""
        cos = torch.einsum('ned,ecd->nec', F.normalize(pre, dim=2),
                           F.normalize(self.weight, dim=2))
        return self.scale * cos

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.expert_logits(self.pre_logits(feats)).mean(dim=1)

    def labels(self, data_samples: List[DataSample]) -> Tensor:
        """The class indices of the batch, checked."""
        if 'gt_score' in data_samples[0]:
            raise ValueError(
                f'{type(self).__name__} trains on class indices; soft '
                'targets (Mixup/CutMix batch augments) are not supported by '
                'the RIDE loss')
        labels = torch.cat([s.gt_label for s in data_samples])
        check_sample_labels(labels, self.num_classes, data_samples)
        return labels

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        logits = self.expert_logits(self.pre_logits(feats))
        labels = self.labels(data_samples).to(logits.device)
        return dict(loss=self.loss_module(logits, labels, **kwargs))
