"""Losses that add the log class prior to the logits during training:
logit adjustment (Menon et al., 2021) and balanced softmax (Ren et al.,
2020). Prediction uses the raw logits."""
from typing import Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number
from .class_counts import CountBasedLoss, CountsLike, soft_cross_entropy

__all__ = ['LogitAdjustedLoss', 'BalancedSoftmaxLoss', 'log_prior']


def log_prior(counts: Tensor) -> Tensor:
    """``log pi_c = log(n_c / sum n)``."""
    return (counts / counts.sum()).log()


@MODELS.register_module()
class LogitAdjustedLoss(CountBasedLoss):
    """``L = -log softmax(z + tau * log pi)_y`` (thesis eq. 4.9).

    Args:
        tau: temperature of the adjustment, ``> 0``; 1 is the source's
            default and equals balanced softmax.
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 tau: float = 1.0,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        self.tau = positive_number(tau, 'tau', 'LogitAdjustedLoss')
        super().__init__(class_counts, reduction, loss_weight)

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        prior = log_prior(self.require_class_counts(x.shape[1])).to(x)
        return soft_cross_entropy(x + self.tau * prior, target)


@MODELS.register_module()
class BalancedSoftmaxLoss(CountBasedLoss):
    """``L = -log softmax(z + log pi)_y`` (thesis eq. 4.10, BALMS).

    Args: see :class:`CountBasedLoss`.
    """

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        prior = log_prior(self.require_class_counts(x.shape[1])).to(x)
        return soft_cross_entropy(x + prior, target)
