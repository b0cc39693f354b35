"""DiVE's distillation loss (He, Wu and Wei, *Distilling Virtual Examples
for Long-tailed Recognition*, ICCV 2021)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number

__all__ = ['DiVELoss', 'dive_soft_targets']


def dive_soft_targets(teacher_logits: Tensor, temperature: float = 3.0,
                      power: float = 0.5) -> Tensor:
    """The virtual-example distribution of each sample::

        q = softmax(z_t / tau)      t_c = q_c^power / sum_j q_j^power

    ``power < 1`` flattens it (power normalisation), ``power = 1`` leaves
    the tempered softmax. Computed from log-probabilities, so classes whose
    tempered probability underflows keep a finite share.
    """
    log_q = F.log_softmax(teacher_logits / temperature, dim=1)
    return F.softmax(power * log_q, dim=1)


@MODELS.register_module()
class DiVELoss(nn.Module):
    """``L = (1 - lambda) * L_base(z_s, y)
    + lambda * tau^2 * KL(t || softmax(z_s / tau))``, with ``t`` the
    teacher's virtual-example distribution (:func:`dive_soft_targets`).

    As in the paper, the student's own term is the balanced softmax
    cross-entropy (``base_loss``, default ``BalancedSoftmaxLoss``, which
    gets the class counts from ``ClassCountsHook``). The KL term is summed
    over classes and averaged over samples (``batchmean``); ``tau^2`` keeps
    its gradient on the scale of the base term (Hinton et al.). The soft
    targets are detached: the teacher is not trained.

    The teacher's logits come as ``teacher_score``, which
    :class:`~mmdsb.models.DiVEClassifier` passes through the head's
    ``loss``; the loss refuses to run without them.

    No official code of DiVE is published; the defaults are the settings
    public re-implementations use to reproduce its Table 2 numbers.

    Args:
        temperature: ``tau`` (3).
        power: exponent of the power normalisation (0.5).
        distill_weight: ``lambda`` in ``[0, 1]`` (0.5).
        base_loss: the student's term on the labels.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: weight of the whole loss.
    """

    def __init__(self,
                 temperature: float = 3.0,
                 power: float = 0.5,
                 distill_weight: float = 0.5,
                 base_loss: dict = dict(type='BalancedSoftmaxLoss'),
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.temperature = positive_number(temperature, 'temperature',
                                           'DiVELoss')
        self.power = positive_number(power, 'power', 'DiVELoss')
        if isinstance(distill_weight, bool) or not 0 <= distill_weight <= 1:
            raise ValueError(f'DiVELoss: distill_weight (lambda) must be in '
                             f'[0, 1], got {distill_weight!r}')
        self.distill_weight = float(distill_weight)
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'DiVELoss: unknown reduction {reduction!r}')
        self.reduction, self.loss_weight = reduction, loss_weight
        self.base_loss = MODELS.build(base_loss)

    def distill(self, cls_score: Tensor, teacher_score: Tensor) -> Tensor:
        """Per-sample ``KL(t || softmax(z_s / tau))``."""
        tau = self.temperature
        t = dive_soft_targets(teacher_score.detach().to(cls_score.dtype),
                              tau, self.power)
        log_s = F.log_softmax(cls_score / tau, dim=1)
        # xlogy: t log t with 0 log 0 = 0.
        return (torch.xlogy(t, t) - t * log_s).sum(dim=1)

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                teacher_score: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        if teacher_score is None:
            raise ValueError(
                "DiVELoss needs the teacher's logits (teacher_score): use it "
                "as the head loss of a model of type='DiVEClassifier'")
        if teacher_score.shape != cls_score.shape:
            raise ValueError(
                f'DiVELoss: teacher logits of shape '
                f'{tuple(teacher_score.shape)} do not match the student '
                f'scores of shape {tuple(cls_score.shape)}')
        reduction = reduction_override or self.reduction
        x = cls_score if cls_score.dtype == torch.float64 else \
            cls_score.float()
        base = self.base_loss(x, label, weight=weight, avg_factor=avg_factor,
                              reduction_override=reduction)
        kl = weight_reduce_loss(
            self.distill(x, teacher_score),
            None if weight is None else weight.to(x.dtype), reduction,
            avg_factor)
        lam, tau = self.distill_weight, self.temperature
        return self.loss_weight * ((1 - lam) * base + lam * tau**2 * kl)
