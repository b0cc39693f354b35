"""What the count-based and epoch-dependent losses share.

Class counts are never typed into a config: :class:`ClassCountsHook` reads
them from the training dataset and calls ``set_class_counts`` on every
:class:`ClassCountsConsumer`; the same hook calls ``set_epoch`` on every
:class:`EpochAware` module before each epoch. Both mixins, and
``check_class_counts``, live in the framework-neutral core (mmdsb.engine,
mmdsb.guards) and are imported here for the losses.
"""
from abc import ABCMeta, abstractmethod
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer, EpochAware
from ...guards import CountsLike, check_class_counts

__all__ = [
    'check_class_counts', 'PerSampleLoss', 'CountBasedLoss', 'EpochAware',
    'one_hot_target', 'soft_cross_entropy'
]


def one_hot_target(label: Tensor, num_classes: int, dtype) -> Tensor:
    """Hard labels as one-hot rows; soft (Mixup/CutMix) targets unchanged."""
    if label.dim() == 1:
        return F.one_hot(label.long(), num_classes).to(dtype)
    if label.shape[1] != num_classes:
        raise ValueError(f'soft targets have {label.shape[1]} classes but '
                         f'the scores have {num_classes}')
    return label.to(dtype)


def soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Per-sample ``-sum_c t_c log softmax(logits)_c``."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1)


class PerSampleLoss(nn.Module, metaclass=ABCMeta):
    """Base of the losses written as a per-sample term.

    Subclasses implement ``per_sample(x, target)`` with ``x`` the scores
    (float32, or float64 when given float64) and ``target`` one-hot or soft
    rows; the base validates the inputs and reduces ``weight * loss`` with
    mmpretrain's ``weight_reduce_loss``. A DSB head passes ``weight = a_y``,
    so the DSB form is ``mean(a_y * L)``.

    Args:
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: weight of the loss.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'unknown reduction {reduction!r}')
        self.reduction, self.loss_weight = reduction, loss_weight

    @abstractmethod
    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        """Unreduced loss of every sample; ``target`` is one-hot or soft."""

    def extra_loss(self, x: Tensor, target: Tensor) -> Optional[Tensor]:
        """A batch-level term added after reduction (none by default)."""
        return None

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
        loss = self.per_sample(x, target)
        if weight is not None:
            weight = weight.to(x.dtype)
        reduction = reduction_override or self.reduction
        loss = weight_reduce_loss(loss, weight, reduction, avg_factor)
        extra = self.extra_loss(x, target)
        if extra is not None:
            if reduction == 'none':
                raise ValueError(f'{type(self).__name__} has a batch-level '
                                 "term and cannot use reduction='none'")
            loss = loss + extra
        return self.loss_weight * loss


class CountBasedLoss(ClassCountsConsumer, PerSampleLoss):
    """Base of the losses built from class counts (see
    :class:`PerSampleLoss` for the reduction). The counts are checked
    against the scores by ``require_class_counts(num_classes)``.

    Args:
        class_counts: training images per class; normally left ``None`` and
            set by ``ClassCountsHook``.
        reduction, loss_weight: see :class:`PerSampleLoss`.
    """

    def __init__(self,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__(reduction, loss_weight)
        if class_counts is not None:
            self.set_class_counts(class_counts)
