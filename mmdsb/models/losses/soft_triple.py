"""SoftTriple loss (Qian et al., 2019) on the relaxed similarities of
:class:`SoftTripleHead` (paper App. F.1, eq. 6)."""
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number
from .class_counts import PerSampleLoss, soft_cross_entropy

__all__ = ['SoftTripleLoss']


@MODELS.register_module()
class SoftTripleLoss(PerSampleLoss):
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
        super().__init__(reduction, loss_weight)
        scale = positive_number(scale, 'scale', 'SoftTripleLoss')
        if not margin >= 0:
            raise ValueError(f'SoftTripleLoss: margin must be >= 0, got '
                             f'{margin}')
        self.scale, self.margin = scale, margin

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        return soft_cross_entropy(self.scale * (x - self.margin * target),
                                  target)
