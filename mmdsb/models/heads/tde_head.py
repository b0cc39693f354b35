"""Causal normalised classifier with test-time TDE (Deconfound-TDE).

Tang, Huang and Zhang, *Long-Tailed Classification by Keeping the Good and
Removing the Bad Momentum Causal Effect*, NeurIPS 2020.
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...guards import (fraction, non_negative_number, positive_int,
                       positive_number)

__all__ = ['TDEClsHead']


@MODELS.register_module()
class TDEClsHead(ClsHead):
    """Deconfound-TDE: a multi-head causal normalised classifier trained
    as usual, whose test-time logits remove the effect of the moving-average
    feature direction.

    The feature ``x`` and each class weight ``w_j`` are cut into
    ``num_head`` equal slices ``x_h``, ``w_jh``. Training logits::

        z_j = (tau / K) * sum_h  x_h / |x_h|  .  w_jh / (|w_jh| + gamma)

    with ``K = num_head``. During training the head keeps the moving average
    of the batch-mean features, ``d <- m d + (1 - m) mean_batch(x)``
    (buffer ``mean_feature``). With ``d_h`` the unit slices of ``d`` and
    ``c_h = x_h / |x_h| . d_h``, the test-time (eval-mode) logits are the
    total direct effect::

        z_j = (tau / K) * sum_h (x_h / |x_h| - alpha c_h d_h)
                                . w_jh / (|w_jh| + gamma)

    Scaling ``d`` does not change ``d_h``, so this EMA gives the same
    direction as the authors' ``d <- m d + mean_batch(x)`` at the same
    ``m``. A zero slice (an untrained head's ``d``, a dead feature) is left
    at zero instead of giving NaN, so an untrained head predicts without
    the removal.

    The batch mean is averaged over all processes (one all-reduce of the
    feature sum and count per training step), so every rank holds the
    same ``d``, which is the full-batch mean of the authors' single-process
    ``DataParallel`` training; DDP's buffer broadcast alone would keep
    only rank 0's local batches and leave the ranks apart during
    validation, which does not go through DDP's forward.

    Args:
        num_classes: number of classes.
        in_channels: dimension of the feature; ``num_head`` must divide it.
        num_head: number of slices ``K`` (2 in the authors' configs).
        tau: logit scale, split over the slices as ``tau / K`` (16).
        alpha: strength of the test-time removal; 0 gives the plain causal
            normalised classifier at test time (3 on ImageNet-LT, 1.5 on
            CIFAR-100-LT and 1 on MSCOCO-GLT in the authors' configs).
        gamma: the ``|w| + gamma`` of the weight normalisation (1/32).
        momentum: ``m`` of the moving average, in [0, 1) (0.9 in the
            NeurIPS 2020 code, 0.995 in the authors' MSCOCO-GLT benchmark).
        use_tde: remove the effect at test time; ``False`` keeps the
            training logits in eval mode too.
        loss, topk, cal_acc, init_cfg: as for :class:`ClsHead`.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_head: int = 2,
                 tau: float = 16.0,
                 alpha: float = 3.0,
                 gamma: float = 0.03125,
                 momentum: float = 0.9,
                 use_tde: bool = True,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        owner = type(self).__name__
        num_classes = positive_int(num_classes, 'num_classes', owner)
        in_channels = positive_int(in_channels, 'in_channels', owner)
        num_head = positive_int(num_head, 'num_head', owner)
        if in_channels % num_head:
            raise ValueError(
                f'{owner}: num_head must divide in_channels, got num_head='
                f'{num_head} for in_channels={in_channels}')
        tau = positive_number(tau, 'tau', owner)
        alpha = non_negative_number(alpha, 'alpha', owner)
        gamma = non_negative_number(gamma, 'gamma', owner)
        momentum = fraction(momentum, 'momentum', owner)
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.num_head, self.tau, self.alpha = num_head, tau, alpha
        self.gamma, self.momentum = gamma, momentum
        self.use_tde = bool(use_tde)
        self.weight = nn.Parameter(torch.empty(num_classes, in_channels))
        # The authors' initialisation, uniform in +-1/sqrt(dim).
        bound = 1.0 / math.sqrt(in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        # A buffer, so that checkpoints and resumed runs carry it.
        self.register_buffer('mean_feature', torch.zeros(in_channels))

    def _slices(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], self.num_head, -1)

    def _unit_slices(self, x: Tensor) -> Tensor:
        return F.normalize(self._slices(x), dim=2)

    def _normed_weight(self) -> Tensor:
        w = self._slices(self.weight)
        return w / (w.norm(dim=2, keepdim=True) + self.gamma)

    def scores(self, x: Tensor) -> Tensor:
        """The logits of features ``x`` (``N x in_channels``): the
        training logits in train mode, the TDE logits in eval mode."""
        scale = self.tau / self.num_head
        nx = self._unit_slices(x)  # N x K x D/K
        nw = self._normed_weight().to(nx.dtype)  # C x K x D/K
        if not self.training and self.use_tde and self.alpha:
            nd = self._unit_slices(self.mean_feature[None]).to(nx.dtype)
            cos = (nx * nd).sum(dim=2, keepdim=True)  # N x K x 1
            nx = nx - self.alpha * cos * nd
        return scale * torch.einsum('nkd,ckd->nc', nx, nw)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.scores(self.pre_logits(feats))

    @torch.no_grad()
    def update_mean_feature(self, x: Tensor) -> None:
        """One moving-average step with the batch mean of ``x``, taken over
        the batches of all processes."""
        # At least float32: a half-precision sum over a batch overflows.
        x = x.detach().to(torch.promote_types(x.dtype, torch.float32))
        stats = torch.cat([x.sum(dim=0), x.new_tensor([x.shape[0]])])
        all_reduce(stats, op='sum')
        batch_mean = stats[:-1] / stats[-1]
        self.mean_feature.mul_(self.momentum).add_(
            batch_mean.to(self.mean_feature), alpha=1.0 - self.momentum)

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        x = self.pre_logits(feats)
        cls_score = self.scores(x)
        # Only training batches move the direction, as in the authors' code.
        if self.training:
            self.update_mean_feature(x)
        return self._get_loss(cls_score, data_samples, **kwargs)
