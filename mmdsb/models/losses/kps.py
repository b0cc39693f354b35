"""KPS loss with gradient adjustment (thesis Ch. 3, eqs. 3.16-3.30)."""
from typing import Optional, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number
from .class_counts import (CountBasedLoss, CountsLike, EpochAware,
                           soft_cross_entropy)

__all__ = ['KPSLoss', 'kps_parameters']


def kps_parameters(counts: Tensor, n_base: float = 50.0,
                   s_base: float = 15.0,
                   m_max: float = 0.5) -> Tuple[Tensor, Tensor, Tensor]:
    """Radius ``r``, margin ``m`` and GA scale ``s`` (float64), exactly as
    thesis eqs. 3.27-3.30 (natural log; the results do not depend on it)::

        r'_i = log(n_i * n_base / n_min),   r_i = r'_i / r'_min
        m'_i = r_max + 1 - r_i,             m_i = m'_i * m_max / m'_max
        s_i  = s_base * m'_i

    The rarest class gets ``r = 1`` and ``m = m_max``; the most frequent
    keeps ``s = s_base``.
    """
    n = counts.double()
    r_prime = torch.log(n * (n_base / n.min()))
    r = r_prime / r_prime.min()
    m_prime = r.max() + 1 - r
    m = m_prime * (m_max / m_prime.max())
    return r, m, s_base * m_prime


@MODELS.register_module()
class KPSLoss(EpochAware, CountBasedLoss):
    """``L = -log softmax(s * z_hat)_y`` with ``z_hat_j = r_j cos_j`` for
    ``j != y`` and ``z_hat_y = r_y cos_y - m_y`` (eqs. 3.16, 3.21-3.22).

    The scores must be cosine logits (:class:`CosineClsHead`). Until
    ``ga_epoch`` finished epochs every sample uses ``s = s_base``; from then
    on (GA, eq. 3.26) a sample of class ``y`` uses ``s_y`` of eq. 3.30 for
    all of its logits. The thesis leaves the switch point open; the
    authors' code switches at epoch 120 of 200 (0-based), the configs'
    choice. Soft targets use ``m * t`` and the scale ``t . s``.

    Args:
        n_base: ``n_base`` of eq. 3.27 (50, all datasets); must be > 1.
        s_base: ``s_base`` of eq. 3.30 (15, all datasets).
        m_max: largest margin: 0.5 for CIFAR-LT, 0.35 for ImageNet-LT,
            0.3 for iNaturalist 2018.
        ga_epoch: finished epochs before GA; ``None``: no GA.
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 n_base: float = 50.0,
                 s_base: float = 15.0,
                 m_max: float = 0.5,
                 ga_epoch: Optional[int] = None,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        s_base = positive_number(s_base, 's_base', 'KPSLoss')
        m_max = positive_number(m_max, 'm_max', 'KPSLoss')
        if not n_base > 1:
            raise ValueError(f'KPSLoss: n_base must be > 1 (log n_base is '
                             f'the smallest radius), got {n_base}')
        if ga_epoch is not None and (int(ga_epoch) != ga_epoch
                                     or ga_epoch < 0):
            raise ValueError(f'KPSLoss: ga_epoch must be an integer >= 0 or '
                             f'None, got {ga_epoch}')
        self.n_base, self.s_base, self.m_max = n_base, s_base, m_max
        self.ga_epoch = ga_epoch
        super().__init__(class_counts, reduction, loss_weight)

    def ga_active(self) -> bool:
        return self.ga_epoch is not None and \
            self.require_epoch() >= self.ga_epoch

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        counts = self.require_class_counts(x.shape[1])
        r, m, s = (v.to(x) for v in kps_parameters(
            counts, self.n_base, self.s_base, self.m_max))
        z_hat = r * x - m * target
        scale = (target @ s)[:, None] if self.ga_active() else self.s_base
        return soft_cross_entropy(scale * z_hat, target)
