"""NormSoftmax (Zhai & Wu, 2019): softmax over cosine logits divided by a
temperature (paper App. F.1, eq. 5)."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS
from torch import Tensor

from .class_counts import check_positive, one_hot_target, soft_cross_entropy

__all__ = ['NormSoftmaxLoss']


@MODELS.register_module()
class NormSoftmaxLoss(nn.Module):
    """``L = -log softmax(cos / sigma)_y``.

    The scores must be cosines ``w_j^T z / (|w_j| |z|)``, i.e. the output
    of :class:`CosineClsHead` (bias-free, both sides L2-normalised).

    Args:
        temperature: ``sigma > 0``; 0.05 is the source's value.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: weight of the loss.
    """

    def __init__(self,
                 temperature: float = 0.05,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        check_positive('NormSoftmaxLoss', temperature=temperature)
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'unknown reduction {reduction!r}')
        self.temperature = temperature
        self.reduction, self.loss_weight = reduction, loss_weight

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        x = cls_score if cls_score.dtype == torch.float64 else \
            cls_score.float()
        target = one_hot_target(label, x.shape[1], x.dtype)
        loss = soft_cross_entropy(x / self.temperature, target)
        if weight is not None:
            weight = weight.to(x.dtype)
        loss = weight_reduce_loss(loss, weight, reduction_override
                                  or self.reduction, avg_factor)
        return self.loss_weight * loss
