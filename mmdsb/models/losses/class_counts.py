"""What the count-based and epoch-dependent losses share.

Class counts are never typed into a config: :class:`ClassCountsHook` reads
them from the training dataset and calls ``set_class_counts`` on every
module that has it; the same hook calls ``set_epoch`` before each epoch.
"""
import math
from abc import ABCMeta, abstractmethod
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

__all__ = [
    'check_class_counts', 'check_positive', 'PerSampleLoss', 'CountBasedLoss',
    'EpochAware', 'one_hot_target', 'soft_cross_entropy'
]

CountsLike = Union[Sequence[float], Tensor]


def check_class_counts(counts: CountsLike,
                       num_classes: Optional[int] = None,
                       owner: str = 'class_counts') -> Tensor:
    """Validate per-class training counts; return them as float64.

    Every count must be a finite number > 0 (a class without training
    images has no prior, margin or effective number), and there must be
    ``num_classes`` of them when that is given.
    """
    t = torch.as_tensor(counts, dtype=torch.float64).detach().cpu()
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f'{owner}: class counts must be a non-empty 1-D '
                         f'list, got shape {tuple(t.shape)}')
    if num_classes is not None and t.numel() != num_classes:
        raise ValueError(
            f'{owner}: got {t.numel()} class counts but the model has '
            f'{num_classes} classes')
    bad = torch.nonzero(~(torch.isfinite(t) & (t > 0))).flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f'{owner}: class counts must be finite and > 0, class {i} has '
            f'{t[i].item()}')
    return t


def check_positive(owner: str, **values) -> None:
    """Raise a clear error for a scale/temperature that is not > 0."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(
                value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f'{owner}: {name} must be a finite number > 0, '
                             f'got {value!r}')


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


class CountBasedLoss(PerSampleLoss):
    """Base of the losses built from class counts (see
    :class:`PerSampleLoss` for the reduction).

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
        self.class_counts: Optional[Tensor] = None
        if class_counts is not None:
            self.set_class_counts(class_counts)

    def set_class_counts(self, counts: CountsLike) -> None:
        self.class_counts = check_class_counts(counts,
                                               owner=type(self).__name__)

    def counts(self, num_classes: int) -> Tensor:
        """The float64 counts, checked against the number of classes."""
        if self.class_counts is None:
            raise RuntimeError(
                f'{type(self).__name__} has no class counts: add '
                "dict(type='ClassCountsHook') to default_hooks (it reads "
                'them from the training dataset) or call set_class_counts')
        if self.class_counts.numel() != num_classes:
            raise ValueError(
                f'{type(self).__name__}: got {self.class_counts.numel()} '
                f'class counts but the scores have {num_classes} classes')
        return self.class_counts


class EpochAware:
    """Receives the training progress from ``ClassCountsHook``.

    ``epoch`` is the number of finished epochs (0 during the first one,
    mmengine's ``runner.epoch``); ``max_epochs`` the length of training.
    """

    epoch: Optional[int] = None
    max_epochs: Optional[int] = None

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        if epoch < 0 or max_epochs < 1:
            raise ValueError(f'invalid training progress: epoch {epoch} of '
                             f'{max_epochs}')
        self.epoch, self.max_epochs = int(epoch), int(max_epochs)

    def require_epoch(self) -> int:
        if self.epoch is None:
            raise RuntimeError(
                f'{type(self).__name__} depends on the epoch: add '
                "dict(type='ClassCountsHook') to default_hooks or call "
                'set_epoch(epoch, max_epochs)')
        return self.epoch
