"""NormSoftmax (Zhai & Wu, 2019): softmax over cosine logits divided by a
temperature (paper App. F.1, eq. 5)."""
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number
from .class_counts import PerSampleLoss, soft_cross_entropy

__all__ = ['NormSoftmaxLoss']


@MODELS.register_module()
class NormSoftmaxLoss(PerSampleLoss):
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
        super().__init__(reduction, loss_weight)
        self.temperature = positive_number(temperature, 'temperature',
                                           'NormSoftmaxLoss')

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        return soft_cross_entropy(x / self.temperature, target)
