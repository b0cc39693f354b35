"""Semantic scales from the statistics of a feature bank."""
from torch import Tensor

from ..feature_bank import FeatureBank
from ..semantic_scale import (USABLE_RTOL, normalised_volumes,
                              scales_from_volumes, usable)

__all__ = ['SemanticScaleMeasure']


class SemanticScaleMeasure:
    """Turns a :class:`FeatureBank` into per-class semantic scales
    ``S = S' * W`` (paper Sec. 3.4.1).

    Args:
        alpha: smoothing of the inter-class weight ``W = log2(alpha + W')``.
        interclass: use the inter-class weight; ``False`` gives ``S = S'``.
        usable_rtol: a class has a usable volume only above this fraction
            of the largest one (see :func:`mmdsb.semantic_scale.usable`).
    """

    def __init__(self,
                 alpha: float = 2.0,
                 interclass: bool = True,
                 usable_rtol: float = USABLE_RTOL):
        self.alpha, self.interclass = alpha, interclass
        self.usable_rtol = usable_rtol

    def __call__(self, bank: FeatureBank) -> Tensor:
        """``(C,)`` float64 semantic scales of the classes in ``bank``."""
        if not self.interclass:
            return scales_from_volumes(bank.volumes(), interclass=False,
                                       rtol=self.usable_rtol)
        return scales_from_volumes(bank.volumes(), bank.distance_sums(),
                                   bank.present(), self.alpha, True,
                                   self.usable_rtol)

    def normalised_volumes(self, bank: FeatureBank) -> Tensor:
        """``(C,)`` ``S'``: the volumes over the largest usable one."""
        return normalised_volumes(bank.volumes(), self.usable_rtol)

    def usable_volumes(self, bank: FeatureBank) -> Tensor:
        """``(C,)`` bool: classes whose volume is usable."""
        return usable(bank.volumes(), self.usable_rtol)
