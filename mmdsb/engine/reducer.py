"""Per-class loss weights from semantic scales: the reducer of DSB, which
weights a loss without changing it."""
from typing import Optional

from torch import Tensor

from ..semantic_scale import USABLE_RTOL, dsb_weights, usable, weights_capped

__all__ = ['DSBWeightReducer']


class DSBWeightReducer:
    """``a_i ∝ 1 / S_i`` (paper Sec. 4.1), with the guards for classes
    without a usable scale and the cap on the weights' spread.

    Args:
        normalize: ``'mean'`` (weights average 1) or ``'sum'`` (sum to 1).
        max_ratio: cap on the largest over the smallest weight, or ``None``.
        usable_rtol: a scale is usable above this fraction of the largest.
    """

    def __init__(self,
                 normalize: str = 'mean',
                 max_ratio: Optional[float] = None,
                 usable_rtol: float = USABLE_RTOL):
        self.normalize, self.max_ratio = normalize, max_ratio
        self.usable_rtol = usable_rtol

    def __call__(self, scales: Tensor) -> Tensor:
        """``(C,)`` float64 weights, finite and positive."""
        return dsb_weights(scales, self.normalize, self.max_ratio,
                           self.usable_rtol)

    def missing(self, scales: Tensor) -> Tensor:
        """``(C,)`` bool: classes without a usable scale, which take the
        largest weight of the others."""
        return ~usable(scales, self.usable_rtol)

    def capped(self, scales: Tensor) -> Tensor:
        """Bool scalar tensor: whether ``max_ratio`` clips the weights."""
        return weights_capped(scales, self.max_ratio, self.usable_rtol)
