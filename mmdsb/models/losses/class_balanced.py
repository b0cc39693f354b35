"""Class-balanced loss (Cui et al., 2019): re-weighting by the inverse
effective number of samples, as softmax cross-entropy or softmax focal."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import fraction
from .class_counts import CountBasedLoss, CountsLike

__all__ = ['ClassBalancedLoss', 'effective_number_weights']


def effective_number_weights(counts: Tensor, beta: float) -> Tensor:
    """``w_c = (1 - beta) / (1 - beta ** n_c)``, normalised so that the
    weights sum to the number of classes (Cui et al.'s normalisation, which
    keeps the loss scale, hence the learning rate, of plain cross-entropy).
    ``beta = 0`` gives uniform weights."""
    fraction(beta, 'beta')
    counts = counts.double()
    w = (1.0 - beta) / (1.0 - torch.pow(beta, counts))
    return w * (counts.numel() / w.sum())


@MODELS.register_module()
class ClassBalancedLoss(CountBasedLoss):
    """``L = w_y (1 - p_y)^gamma (-log p_y)`` with ``w`` from
    :func:`effective_number_weights`.

    ``gamma = 0`` is CB-CE (CB softmax), ``gamma > 0`` CB-focal. Cui et al.
    also use a sigmoid focal form; mmdsb's focal losses are softmax-based,
    like :class:`SoftmaxFocalLoss`. Soft targets give
    ``-sum_c t_c w_c (1 - p_c)^gamma log p_c``.

    Args:
        beta: effective-number hyper-parameter; 0.9999 is the source's
            choice for the long-tailed CIFAR sets.
        gamma: focusing parameter, ``>= 0``.
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 beta: float = 0.9999,
                 gamma: float = 0.0,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        beta = fraction(beta, 'beta', 'ClassBalancedLoss')
        if not gamma >= 0:
            raise ValueError(f'ClassBalancedLoss: gamma must be >= 0, got '
                             f'{gamma}')
        self.beta, self.gamma = beta, gamma
        super().__init__(class_counts, reduction, loss_weight)

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        counts = self.require_class_counts(x.shape[1])
        w = effective_number_weights(counts, self.beta).to(x)
        log_p = F.log_softmax(x, dim=1)
        focal = -(1 - log_p.exp()).pow(self.gamma) * log_p
        return (target * w * focal).sum(dim=1)
