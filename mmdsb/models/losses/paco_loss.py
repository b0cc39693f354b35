"""The loss of Parametric Contrastive Learning (PaCo; Cui et al., ICCV
2021)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer
from ...guards import CountsLike, non_negative_number, positive_number

__all__ = ['PaCoLoss']


@MODELS.register_module()
class PaCoLoss(ClassCountsConsumer, nn.Module):
    """Supervised contrastive loss with parametric class centres.

    For anchor ``i`` (query feature ``q_i``, label ``y_i``) the candidates
    are the ``C`` class centres (the classifier's logits ``z_i``) and the
    contrast set ``{q, k, queue}`` without ``q_i`` itself (``k``: the key
    encoder's features of the other view, ``queue``: earlier keys)::

        s_ic = (z_ic + log(pi_c + 1e-9)) / supt       (centre c)
        s_ij = q_i . v_j / temperature                 (contrast entry j)
        log p_ic = s_ic - log D_i,  log p_ij = s_ij - log D_i,
        D_i = sum_c exp(s_ic) + gamma * sum_{j != i} exp(s_ij)
        l_i = -(temperature / base_temperature)
              * (beta log p_iy + alpha sum_{j in P(i)} log p_ij)
              / (beta + alpha |P(i)|)

    with ``pi`` the training class prior (balanced softmax on the centre
    logits) and ``P(i)`` the contrast entries of label ``y_i`` other than
    ``q_i``. The loss is ``mean_i(w_i l_i)``, ``w_i = 1`` unless a weight is
    given (DSB passes ``a_{y_i}``). This is the authors' published code
    (``LT/losses.py``): the centre logits are not divided by the
    temperature, and the max-subtraction and the ``1e-12`` in ``log D_i``
    are kept. Class counts come from ``ClassCountsHook``.

    Args:
        alpha: weight of the sample-to-sample positives (0.05 in the
            authors' ImageNet-LT and iNaturalist scripts).
        beta: weight of the positive centre.
        gamma: weight of the contrast entries in the denominator.
        temperature: of the contrast logits (0.07 for ImageNet-LT
            ResNeXt-50, 0.2 for iNaturalist ResNet-50 in their scripts).
        supt: temperature of the centre logits (1 in their code).
        base_temperature: ``None`` for ``temperature`` (factor 1).
        class_counts: training images per class; normally set by
            ``ClassCountsHook``.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        loss_weight: weight of the loss.
    """

    def __init__(self,
                 alpha: float = 0.05,
                 beta: float = 1.0,
                 gamma: float = 1.0,
                 temperature: float = 0.2,
                 supt: float = 1.0,
                 base_temperature: Optional[float] = None,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        super().__init__()
        self.alpha = non_negative_number(alpha, 'alpha', 'PaCoLoss')
        self.beta = non_negative_number(beta, 'beta', 'PaCoLoss')
        self.gamma = non_negative_number(gamma, 'gamma', 'PaCoLoss')
        if self.alpha + self.beta == 0:
            raise ValueError('PaCoLoss: alpha and beta are both 0, so no '
                             'positive is left; make one of them > 0')
        self.temperature = positive_number(temperature, 'temperature',
                                           'PaCoLoss')
        self.supt = positive_number(supt, 'supt', 'PaCoLoss')
        self.base_temperature = self.temperature if base_temperature is \
            None else positive_number(base_temperature, 'base_temperature',
                                      'PaCoLoss')
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'PaCoLoss: unknown reduction {reduction!r}')
        self.reduction, self.loss_weight = reduction, loss_weight
        if class_counts is not None:
            self.set_class_counts(class_counts)

    def per_sample(self, cls_score: Tensor, query: Tensor, keys: Tensor,
                   labels: Tensor, queue: Tensor,
                   queue_labels: Tensor) -> Tensor:
        """``(B,)`` unreduced loss ``l_i`` of each anchor."""
        # float32 at least: fp16 loses the small sample-to-sample terms.
        dtype = torch.float64 if cls_score.dtype == torch.float64 \
            else torch.float32
        z = cls_score.to(dtype)
        num, num_classes = z.shape
        if query.shape[0] != num or keys.shape[0] != num or \
                labels.shape != (num, ):
            raise ValueError(
                f'PaCoLoss: {num} class scores but query {tuple(query.shape)}'
                f', keys {tuple(keys.shape)} and labels '
                f'{tuple(labels.shape)}; they must have one row per anchor')
        if queue.shape[0] != queue_labels.shape[0]:
            raise ValueError(
                f'PaCoLoss: a queue of {queue.shape[0]} keys has '
                f'{queue_labels.shape[0]} labels')
        counts = self.require_class_counts(num_classes).to(z.device, dtype)
        prior = counts / counts.sum()
        centre = (z + torch.log(prior + 1e-9)) / self.supt
        q = query.to(dtype)
        contrast = torch.cat([q, keys.to(dtype), queue.to(dtype)])
        contrast_labels = torch.cat([labels, labels, queue_labels]).to(
            labels.device)
        sim = q @ contrast.T / self.temperature
        logits = torch.cat([centre, sim], dim=1)
        # Stability only: the shift cancels in log p.
        logits = logits - logits.max(dim=1, keepdim=True).values.detach()
        not_self = torch.ones_like(sim)
        rows = torch.arange(num, device=sim.device)
        not_self[rows, rows] = 0
        same = (labels[:, None] == contrast_labels[None, :]).to(dtype)
        positives = torch.cat([
            self.beta * F.one_hot(labels.long(), num_classes).to(dtype),
            self.alpha * same * not_self
        ], dim=1)
        candidates = torch.cat([torch.ones_like(centre),
                                self.gamma * not_self], dim=1)
        log_den = torch.log((logits.exp() * candidates).sum(
            dim=1, keepdim=True) + 1e-12)
        log_prob = logits - log_den
        mean_pos = (positives * log_prob).sum(dim=1) / positives.sum(dim=1)
        return -(self.temperature / self.base_temperature) * mean_pos

    def forward(self,
                cls_score: Tensor,
                query: Tensor,
                keys: Tensor,
                labels: Tensor,
                queue: Tensor,
                queue_labels: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """The loss of a batch.

        Args:
            cls_score: ``(B, C)`` classifier logits of the query view.
            query: ``(B, D)`` normalised query features (the anchors).
            keys: ``(B, D)`` normalised key features of the other view.
            labels: ``(B,)`` class indices of the anchors and keys.
            queue: ``(K, D)`` earlier keys; ``queue_labels``: ``(K,)``.
            weight: ``(B,)`` per-anchor weights, e.g. DSB's ``a_y``.
        """
        device = cls_score.device.type
        if torch.amp.is_autocast_available(device):
            # Under AMP the similarities would be computed in fp16.
            with torch.autocast(device, enabled=False):
                loss = self.per_sample(cls_score, query, keys, labels, queue,
                                       queue_labels)
        else:
            loss = self.per_sample(cls_score, query, keys, labels, queue,
                                   queue_labels)
        if weight is not None:
            weight = weight.to(loss.dtype)
        loss = weight_reduce_loss(loss, weight,
                                  reduction_override or self.reduction,
                                  avg_factor)
        return self.loss_weight * loss
