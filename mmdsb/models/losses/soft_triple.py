"""SoftTriple loss (Qian et al., 2019) on the relaxed similarities of
:class:`SoftTripleHead` (paper App. F.1, eq. 6)."""
from typing import Optional

import torch
import torch.nn as nn
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS
from torch import Tensor

from .class_counts import check_positive, one_hot_target, soft_cross_entropy

__all__ = ['SoftTripleLoss']


@MODELS.register_module()
class SoftTripleLoss(nn.Module):
    """``L = -log softmax(lambda * (D' - delta e_y))_y``.

    ``D'_{z,c}`` is the relaxed similarity to class ``c`` computed by
    :class:`SoftTripleHead` (which also owns the centres, their temperature
    ``gamma`` and the ``tau`` regulariser). Soft targets subtract
    ``delta * t``.

    Args:
        scale: ``lambda > 0`` (20, the source's default).
        margin: ``delta >= 0`` (0.01).
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: weight of the loss.
    """

    def __init__(self,
                 scale: float = 20.0,
                 margin: float = 0.01,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        check_positive('SoftTripleLoss', scale=scale)
        if not margin >= 0:
            raise ValueError(f'SoftTripleLoss: margin must be >= 0, got '
                             f'{margin}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'unknown reduction {reduction!r}')
        self.scale, self.margin = scale, margin
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
        loss = soft_cross_entropy(self.scale * (x - self.margin * target),
                                  target)
        if weight is not None:
            weight = weight.to(x.dtype)
        loss = weight_reduce_loss(loss, weight, reduction_override
                                  or self.reduction, avg_factor)
        return self.loss_weight * loss
