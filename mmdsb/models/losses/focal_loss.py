"""Softmax focal loss; mmpretrain's own focal loss is sigmoid-only."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['SoftmaxFocalLoss']


@MODELS.register_module()
class SoftmaxFocalLoss(nn.Module):
    """``FL(p_t) = -alpha_t (1 - p_t)^gamma log p_t`` over a softmax.

    Soft targets ``t`` (Mixup/CutMix) give ``-sum_c t_c alpha_c
    (1 - p_c)^gamma log p_c``. A sample weight passed by the head multiplies
    the loss: a DSB head passes ``a_y``, which makes ``alpha_t = a_y``
    (DSB-Focal, paper App. F.1).

    Args:
        gamma: focusing parameter, ``>= 0``; 0 gives cross-entropy.
        alpha: class balance factor, one number or one per class.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: weight of the loss.
    """

    def __init__(self,
                 gamma: float = 2.0,
                 alpha: Union[float, Sequence[float]] = 1.0,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f'gamma must be >= 0, got {gamma}')
        alpha_t = torch.as_tensor(alpha, dtype=torch.float32)
        if alpha_t.dim() > 1 or not (alpha_t > 0).all():
            raise ValueError(
                f'alpha must be a positive number or a list of positive '
                f'numbers, one per class, got {alpha}')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'unknown reduction {reduction!r}')
        self.gamma, self.reduction, self.loss_weight = (gamma, reduction,
                                                        loss_weight)
        self.register_buffer('alpha', alpha_t, persistent=False)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        num_classes = cls_score.shape[1]
        if self.alpha.dim() == 1 and self.alpha.numel() != num_classes:
            raise ValueError(f'alpha has {self.alpha.numel()} entries but '
                             f'the scores have {num_classes} classes')
        reduction = reduction_override or self.reduction
        log_p = F.log_softmax(cls_score.float(), dim=1)
        focal = -(1 - log_p.exp()).pow(self.gamma) * log_p
        alpha = self.alpha.expand(num_classes)
        if label.dim() == 1:
            loss = (focal * alpha).gather(1, label[:, None])[:, 0]
        else:
            loss = (label.float() * focal * alpha).sum(dim=1)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight, reduction, avg_factor)
        return self.loss_weight * loss
