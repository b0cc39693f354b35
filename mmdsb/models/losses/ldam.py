"""LDAM loss with optional deferred re-weighting (Cao et al., 2019)."""
from typing import Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from .class_balanced import effective_number_weights
from ...guards import fraction, positive_number
from .class_counts import (CountBasedLoss, CountsLike, EpochAware,
                           soft_cross_entropy)

__all__ = ['LDAMLoss', 'ldam_margins']


def ldam_margins(counts: Tensor, max_margin: float) -> Tensor:
    """``m_c = C / n_c^(1/4)`` with ``C`` such that the rarest class gets
    ``max_margin``."""
    m = counts.double().pow(-0.25)
    return m * (max_margin / m.max())


@MODELS.register_module()
class LDAMLoss(EpochAware, CountBasedLoss):
    """``L = -log softmax(s * (z - m_y e_y))_y``.

    The scores are expected to be cosine logits (:class:`CosineClsHead`),
    as in the authors' CIFAR code; the scale ``s`` turns them into logits.
    Soft targets subtract ``m * t`` (the margin in proportion to the
    target mass).

    DRW: from the ``drw_epoch``-th finished epoch on (0-based, as in the
    authors' code, where 160 of 200 is the switch), each sample is weighted
    by the class-balanced weight of its class (``drw_beta``, weights
    averaging 1) and the batch loss is ``mean(w_y L)``. A sample weight from
    a DSB head *replaces* the DRW weights: DSB is the re-weighting.

    Args:
        max_margin: margin of the rarest class (0.5).
        scale: ``s`` (30).
        drw_epoch: first epoch of deferred re-weighting; ``None``: no DRW.
        drw_beta: effective-number beta of the DRW weights (0.9999).
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 max_margin: float = 0.5,
                 scale: float = 30.0,
                 drw_epoch: Optional[int] = None,
                 drw_beta: float = 0.9999,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        max_margin = positive_number(max_margin, 'max_margin', 'LDAMLoss')
        scale = positive_number(scale, 'scale', 'LDAMLoss')
        if drw_epoch is not None and (int(drw_epoch) != drw_epoch
                                      or drw_epoch < 0):
            raise ValueError(f'LDAMLoss: drw_epoch must be an integer >= 0 '
                             f'or None, got {drw_epoch}')
        drw_beta = fraction(drw_beta, 'drw_beta', 'LDAMLoss')
        self.max_margin, self.scale = max_margin, scale
        self.drw_epoch, self.drw_beta = drw_epoch, drw_beta
        super().__init__(class_counts, reduction, loss_weight)

    def drw_active(self) -> bool:
        return self.drw_epoch is not None and \
            self.require_epoch() >= self.drw_epoch

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        counts = self.require_class_counts(x.shape[1])
        m = ldam_margins(counts, self.max_margin).to(x)
        return soft_cross_entropy(self.scale * (x - m * target), target)

    def forward(self, cls_score, label, weight=None, **kwargs):
        if weight is None and self.drw_active():
            counts = self.require_class_counts(cls_score.shape[1])
            w = effective_number_weights(counts, self.drw_beta).to(
                cls_score.device)
            if label.dim() == 1:
                weight = w[label]
            else:
                weight = label.to(w.dtype) @ w
        return super().forward(cls_score, label, weight=weight, **kwargs)
