"""LADE (Hong et al., 2021): prior-adjusted cross-entropy plus the LADE
regulariser, a ReMINE lower bound on the target-prior logit."""
import math
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .class_counts import CountBasedLoss, CountsLike, soft_cross_entropy
from .logit_adjusted import log_prior

__all__ = ['LADELoss']


@MODELS.register_module()
class LADELoss(CountBasedLoss):
    """``L = PriorCE + alpha * R_LADE``, following the authors' code.

    ``PriorCE = -log softmax(z + log pi)_y`` per sample. With ``B`` the
    batch, ``B_c`` its samples of class ``c`` and ``z`` the raw logits:

    ``first_c = sum_{i in B_c} z_ic / |B_c|`` (0 for an absent class),
    ``second_c = logsumexp_{i in B}(z_ic - log pi_c + log(1/C)) - log |B|``,
    ``R_LADE = -sum_c pi_c (first_c - second_c - lambda * second_c^2)``.

    Decision: ``R_LADE`` is a per-class batch statistic, not a per-sample
    loss, so a sample weight (DSB's ``a_y``) multiplies the PriorCE term
    only; the regulariser is added unweighted. Soft targets use their
    argmax class in the regulariser.

    Args:
        alpha: weight of the regulariser (0.1, the authors' default).
        remine_lambda: ``lambda`` of ReMINE (0.1).
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 alpha: float = 0.1,
                 remine_lambda: float = 0.1,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        if not (alpha >= 0 and remine_lambda >= 0):
            raise ValueError('LADELoss: alpha and remine_lambda must be >= 0,'
                             f' got {alpha} and {remine_lambda}')
        self.alpha, self.remine_lambda = alpha, remine_lambda
        super().__init__(class_counts, reduction, loss_weight)

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        prior = log_prior(self.require_class_counts(x.shape[1])).to(x)
        return soft_cross_entropy(x + prior, target)

    def extra_loss(self, x: Tensor, target: Tensor) -> Tensor:
        n, num_classes = x.shape
        counts = self.require_class_counts(num_classes)
        pi = (counts / counts.sum()).to(x)
        member = torch.nn.functional.one_hot(
            target.argmax(dim=1), num_classes).to(x)  # N x C
        per_class = member.sum(dim=0)
        first = (x * member).sum(dim=0) / (per_class + 1e-8)
        second = torch.logsumexp(
            x - pi.log() + math.log(1.0 / num_classes), dim=0) - math.log(n)
        bound = first - second - self.remine_lambda * second.pow(2)
        return self.alpha * -(bound * pi).sum()
