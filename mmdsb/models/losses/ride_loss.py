"""RIDE's loss: distribution-aware experts made diverse (Wang et al., ICLR
2021), in the form of the authors' code (``RIDELoss`` of
RIDE-LongTailRecognition)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer
from ...guards import fraction, positive_number
from .class_balanced import effective_number_weights
from .class_counts import EpochAware
from .ldam import ldam_margins

__all__ = ['RIDELoss', 'ride_temperatures']

Weights = Union[None, Tensor, Sequence[Optional[Tensor]]]


def ride_temperatures(counts: Tensor, factor: float) -> Tensor:
    """The distribution-aware diversity temperatures
    ``T_c = (C p_c f + 1 - f) / max_c(...)`` with ``p_c`` the class
    frequency and ``f`` the factor: 1 for the largest class, lower for the
    rarer ones."""
    p = counts.double() / counts.double().sum()
    t = counts.numel() * p * factor + 1 - factor
    if not bool((t > 0).all()):
        raise ValueError(
            f'RIDELoss: temperature_factor={factor} is too large for these '
            f'class counts: the smallest temperature is {t.min().item():g}'
            ' (must be > 0)')
    return t / t.max()


@MODELS.register_module()
class RIDELoss(EpochAware, ClassCountsConsumer, nn.Module):
    """Sum over the experts ``i`` of a distribution-aware classification
    term and a diversity term, on the experts' logits ``z_i`` (scale
    included, e.g. ``30 * cos``) and their mean ``z``:

    ``L = sum_i [ LDAM(z_i, y) + f_div * mean(T)^2 * KL(p_T(z) || p_T(z_i)) ]``

    - ``LDAM(z_i, y) = CE(z_i - s m_y e_y, y)`` with the LDAM margins
      ``m_c ~ n_c^(-1/4)`` up to ``max_margin``, times ``margin_scale``
      (the classifier's scale, 30), as the authors' code subtracts
      ``s * m`` from logits already multiplied by ``s``. From the
      ``drw_epoch``-th finished epoch on, deferred re-weighting weighs the
      samples by the class-balanced weights (effective number,
      ``drw_beta``), reduced as PyTorch's weighted cross-entropy:
      ``sum(w_y CE) / sum(w_y)``.
    - ``p_T(z) = softmax(z / T)``, the mean distribution detached;
      ``KL`` is summed over classes and averaged over the batch. ``T = 1``
      before ``drw_epoch``, then the per-class temperatures of
      :func:`ride_temperatures` (``temperature_factor``). ``f_div = -0.2``
      rewards experts that differ from their mean.

    A per-sample weight ``a_y`` given to :meth:`forward` (a DSB head's)
    replaces the DRW weights of the classification term, which becomes
    ``mean(a_y * LDAM)``; the diversity term is unchanged. As in the
    authors' code, ``diversity_factor=0`` makes every expert's
    classification term use the mean logits. ``ClassCountsHook`` hands the
    class counts and the epoch to the loss.

    Distillation (the authors' ``RIDELossWithDistill``): given the logits
    ``t`` of a frozen teacher as ``teacher_score`` (``DiVEClassifier``
    passes them), the loss is
    ``E * (L + f_dis * tau^2 * KL(softmax(t / tau) || softmax(z / tau)))``
    on the students' mean logits ``z``; the factor ``E`` (the number of
    experts) is the authors' code, which adds both terms once per expert.

    Args:
        max_margin: LDAM margin of the rarest class (0.5).
        margin_scale: scale of the margins in logit units (30).
        drw_epoch: first (0-based) epoch of re-weighting and of the
            distribution-aware temperatures; ``None``: never. The authors'
            100-epoch configs switch after epoch 80.
        drw_beta: effective-number beta of the DRW weights (0.9999).
        diversity_factor: ``f_div`` (-0.2).
        diversity_temperature: base temperature of the diversity term (1).
        temperature_factor: ``f`` of the temperatures (0.02 on ImageNet-LT,
            0.015 on iNaturalist 2018 in the authors' configs).
        distill_factor: ``f_dis`` of the distillation term (1).
        distill_temperature: ``tau`` of the distillation term (1.5 in the
            authors' distillation configs).
        loss_weight: weight of the whole loss.
    """

    def __init__(self,
                 max_margin: float = 0.5,
                 margin_scale: float = 30.0,
                 drw_epoch: Optional[int] = None,
                 drw_beta: float = 0.9999,
                 diversity_factor: float = -0.2,
                 diversity_temperature: float = 1.0,
                 temperature_factor: float = 0.05,
                 distill_factor: float = 1.0,
                 distill_temperature: float = 1.5,
                 loss_weight: float = 1.0):
        super().__init__()
        owner = 'RIDELoss'
        self.max_margin = positive_number(max_margin, 'max_margin', owner)
        self.margin_scale = positive_number(margin_scale, 'margin_scale',
                                            owner)
        if drw_epoch is not None and (int(drw_epoch) != drw_epoch
                                      or drw_epoch < 0):
            raise ValueError(f'RIDELoss: drw_epoch must be an integer >= 0 '
                             f'or None, got {drw_epoch!r}')
        self.drw_epoch = drw_epoch
        self.drw_beta = fraction(drw_beta, 'drw_beta', owner)
        self.diversity_factor = float(diversity_factor)
        self.diversity_temperature = positive_number(
            diversity_temperature, 'diversity_temperature', owner)
        self.temperature_factor = fraction(temperature_factor,
                                           'temperature_factor', owner)
        self.distill_factor = float(distill_factor)
        self.distill_temperature = positive_number(
            distill_temperature, 'distill_temperature', owner)
        self.loss_weight = float(loss_weight)

    def drw_active(self) -> bool:
        return self.drw_epoch is not None and \
            self.require_epoch() >= self.drw_epoch

    def forward(self,
                expert_logits: Tensor,
                label: Tensor,
                weight: Weights = None,
                teacher_score: Optional[Tensor] = None) -> Tensor:
        """``expert_logits``: ``(N, E, C)``; ``label``: ``(N,)`` class
        indices; ``weight``: ``None``, one ``(N,)`` per-sample weight for
        every expert, or a sequence of ``E`` of them (``None`` entries keep
        RIDE's own weighting for that expert); ``teacher_score``: ``(N, C)``
        logits of a teacher to distil, or ``None``."""
        if expert_logits.dim() != 3:
            raise ValueError('RIDELoss expects expert logits of shape (N, '
                             'experts, classes), got '
                             f'{tuple(expert_logits.shape)}')
        if label.dim() != 1:
            raise ValueError('RIDELoss takes class indices, not soft '
                             f'targets (got labels of shape '
                             f'{tuple(label.shape)})')
        x = expert_logits if expert_logits.dtype == torch.float64 else \
            expert_logits.float()
        n, num_experts, num_classes = x.shape
        weights = self._expert_weights(weight, num_experts)
        counts = self.require_class_counts(num_classes)
        label = label.to(x.device).long()
        margin = ldam_margins(counts, self.max_margin).to(x)[label]
        one_hot = F.one_hot(label, num_classes).to(x.dtype)
        drw = self.drw_active()
        cb = effective_number_weights(counts, self.drw_beta).to(x)[label] \
            if drw else None
        if drw:
            temp = self.diversity_temperature * ride_temperatures(
                counts, self.temperature_factor).to(x)
            temp_mean = temp.mean()
        else:
            temp = temp_mean = self.diversity_temperature
        mean_logits = x.mean(dim=1)
        # The mean distribution is a target: no gradient flows through it.
        target = F.softmax(mean_logits.detach() / temp, dim=1)
        loss = x.new_zeros(())
        for i in range(num_experts):
            z = x[:, i] if self.diversity_factor != 0 else mean_logits
            ce = F.cross_entropy(
                z - self.margin_scale * margin[:, None] * one_hot,
                label,
                reduction='none')
            if weights[i] is not None:
                loss = loss + (weights[i].to(x) * ce).mean()
            elif cb is not None:
                loss = loss + (cb * ce).sum() / cb.sum()
            else:
                loss = loss + ce.mean()
            log_q = F.log_softmax(x[:, i] / temp, dim=1)
            kl = F.kl_div(log_q, target, reduction='batchmean')
            loss = loss + self.diversity_factor * temp_mean**2 * kl
        if teacher_score is not None:
            loss = num_experts * (
                loss + self.distill_factor * self._distill(
                    mean_logits, teacher_score.to(x)))
        return self.loss_weight * loss

    def _distill(self, student: Tensor, teacher: Tensor) -> Tensor:
        if teacher.shape != student.shape:
            raise ValueError(
                f'RIDELoss: the teacher logits have shape '
                f'{tuple(teacher.shape)}, the students '
                f'{tuple(student.shape)}')
        tau = self.distill_temperature
        target = F.softmax(teacher.detach() / tau, dim=1)
        kl = F.kl_div(F.log_softmax(student / tau, dim=1), target,
                      reduction='batchmean')
        return tau**2 * kl

    @staticmethod
    def _expert_weights(weight: Weights, num_experts: int) -> list:
        if weight is None or isinstance(weight, Tensor):
            return [weight] * num_experts
        weights = list(weight)
        if len(weights) != num_experts:
            raise ValueError(f'RIDELoss: got {len(weights)} per-expert '
                             f'weights for {num_experts} experts')
        return weights
