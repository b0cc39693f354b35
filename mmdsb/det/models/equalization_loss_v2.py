"""Equalization Loss v2 for mmdet's two-stage box heads."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses import accuracy
from mmdet.registry import MODELS
from mmengine.dist import all_reduce
from torch import Tensor

from ...guards import positive_int

__all__ = ['EqualizationLossV2']


@MODELS.register_module()
class EqualizationLossV2(nn.Module):
    """`Equalization Loss v2 <https://arxiv.org/abs/2012.08548>`_ as
    published (Tan et al., CVPR 2021), usable as the ``loss_cls`` of
    mmdet's box heads and with DSB.

    Sigmoid classifier with ``C + 1`` outputs, the last one the background
    (objectness) logit. Each class's positive and negative gradients are
    accumulated; the ratio ``g = pos / neg`` sets the weights
    ``neg_w = sigmoid(gamma * (g - mu))`` and ``pos_w = 1 + alpha *
    (1 - neg_w)`` of its binary cross-entropy terms.

    Unlike mmdet's ``EQLV2Loss``:

    * ``weight`` (the box head's ``label_weights``) multiplies the loss of
      each RoI and ``avg_factor`` divides the sum (without it, the number
      of RoIs, as published), so DSB weights and ignored RoIs count. The
      accumulated gradients are those the weighted loss produces.
    * It sets ``custom_cls_channels``, ``custom_activation`` and
      ``custom_accuracy``, so mmdet's box heads build ``C + 1`` outputs,
      score with :meth:`get_activation` and report
      :meth:`get_accuracy`.
    * The gradient statistics are summed over all ranks by default
      (``use_distributed=True``), as the official code does, so every rank
      uses the same weights.

    Args:
        num_classes: number of foreground classes.
        mu, alpha, gamma: the published mapping (0.8, 4, 12).
        use_distributed: all-reduce the statistics (a no-op on one rank).
        test_with_obj: multiply class scores by ``1 - background`` at test.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        loss_weight: weight of the loss.
    """

    def __init__(self,
                 num_classes: int,
                 mu: float = 0.8,
                 alpha: float = 4.0,
                 gamma: float = 12.0,
                 use_distributed: bool = True,
                 test_with_obj: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError("reduction must be 'mean', 'sum' or 'none', "
                             f'got {reduction!r}')
        self.num_classes = positive_int(num_classes, 'num_classes',
                                        'EqualizationLossV2')
        self.mu, self.alpha, self.gamma = mu, alpha, gamma
        self.use_distributed = use_distributed
        self.test_with_obj = test_with_obj
        self.reduction, self.loss_weight = reduction, loss_weight
        self.use_sigmoid = True
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True
        self.register_buffer('pos_grad', torch.zeros(self.num_classes))
        self.register_buffer('neg_grad', torch.zeros(self.num_classes))
        # A large initial ratio makes both weights 1 before any statistics.
        self.register_buffer('pos_neg', torch.full((self.num_classes, ),
                                                   100.))

    def get_cls_channels(self, num_classes: int) -> int:
        if num_classes != self.num_classes:
            raise ValueError(
                f'the box head has num_classes={num_classes} but '
                f'EqualizationLossV2 has num_classes={self.num_classes}')
        return num_classes + 1

    def get_activation(self, cls_score: Tensor) -> Tensor:
        """``(N, C + 1)`` scores, the last column the background's."""
        scores = torch.sigmoid(cls_score)
        background = scores[:, -1:]
        if self.test_with_obj:
            return torch.cat([scores[:, :-1] * (1 - background), background],
                             dim=1)
        return scores

    def get_accuracy(self, cls_score: Tensor,
                     labels: Tensor) -> Dict[str, Tensor]:
        return dict(acc=accuracy(self.get_activation(cls_score), labels))

    def class_weights(self) -> tuple:
        """``(pos_w, neg_w)`` over the ``C + 1`` outputs; the background
        output keeps weight 1."""
        neg_w = torch.sigmoid(self.gamma * (self.pos_neg - self.mu))
        neg_w = torch.cat([neg_w, neg_w.new_ones(1)])
        return 1 + self.alpha * (1 - neg_w), neg_w

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Loss of ``(N, C + 1)`` logits for labels in ``[0, C]`` (``C``:
        background); ``weight`` is a per-RoI weight."""
        reduction = reduction_override or self.reduction
        num_rois, channels = cls_score.shape
        if channels != self.num_classes + 1:
            raise ValueError(
                f'EqualizationLossV2 expects {self.num_classes + 1} logits '
                f'per RoI (C + 1), got {channels}')
        target = F.one_hot(label, channels).to(cls_score.dtype)
        pos_w, neg_w = self.class_weights()
        eql_w = (pos_w * target + neg_w * (1 - target)).to(cls_score.dtype)
        if weight is not None:
            eql_w = eql_w * weight.to(cls_score.dtype).view(-1, 1)
        loss = F.binary_cross_entropy_with_logits(
            cls_score, target, reduction='none') * eql_w
        if self.training:
            self._collect_grad(cls_score.detach(), target, eql_w.detach())
        if reduction == 'none':
            return self.loss_weight * loss
        loss = loss.sum()
        if reduction == 'mean':
            loss = loss / (num_rois if avg_factor is None else avg_factor)
        return self.loss_weight * loss

    @torch.no_grad()
    def _collect_grad(self, cls_score: Tensor, target: Tensor,
                      weight: Tensor) -> None:
        # |dL/dz| of the weighted loss; the background column is left out.
        grad = (torch.sigmoid(cls_score) - target).abs() * weight
        pos_grad = (grad * target).sum(dim=0)[:-1].float()
        neg_grad = (grad * (1 - target)).sum(dim=0)[:-1].float()
        if self.use_distributed:
            all_reduce(pos_grad)
            all_reduce(neg_grad)
        self.pos_grad += pos_grad
        self.neg_grad += neg_grad
        self.pos_neg = self.pos_grad / (self.neg_grad + 1e-10)
