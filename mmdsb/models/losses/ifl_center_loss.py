"""The centre loss of Invariant Feature Learning (IFL).

Tang, Tao, Qi, Liu and Zhang, *Invariant Feature Learning for Generalized
Long-Tailed Classification*, ECCV 2022. The released code
(``train_center_dual.py`` with the ``center_dual`` settings) is followed,
since it produced the published numbers.
"""
import math
import numbers
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, is_distributed
from mmpretrain.registry import MODELS
from torch import Tensor

from ...engine.class_counts_hook import EpochAware
from ...guards import positive_int, positive_number

__all__ = ['IFLCenterLoss']

_OWNER = 'IFLCenterLoss'


def _schedule(milestones: Sequence[int], weights: Sequence[float]):
    milestones, weights = list(milestones), list(weights)
    if not milestones or len(milestones) != len(weights):
        raise ValueError(
            f'{_OWNER}: milestones and weights must be non-empty and of the '
            f'same length, got milestones={milestones!r}, '
            f'weights={weights!r}')
    for m in milestones:
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) \
                or m < 0:
            raise ValueError(f'{_OWNER}: milestones must be epochs (integers'
                             f' >= 0), got {milestones!r}')
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f'{_OWNER}: milestones must increase strictly, got '
                         f'{milestones!r}')
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, numbers.Real) \
                or not math.isfinite(w) or w < 0:
            raise ValueError(f'{_OWNER}: weights must be finite numbers >= '
                             f'0, got {weights!r}')
    return [int(m) for m in milestones], [float(w) for w in weights]


@MODELS.register_module()
class IFLCenterLoss(EpochAware, nn.Module):
    """``w(epoch) * mean_i ||x_i - c_{y_i}||^2`` with class centres ``c``
    that follow the features of both IFL environments.

    ``x`` is the classifier input (the pooled backbone feature). The centres
    are not trained by the model's optimiser: IFL gives them their own SGD
    (learning rate ``center_lr``, no momentum, no weight decay) on the
    unweighted centre loss, whose step is, per class ``k`` of a batch of
    ``B`` images (all ranks together)::

        c_k <- c_k + (2 * center_lr / B) * sum_{i: y_i = k} (x_i - c_k)

    i.e. with the published ``center_lr = 0.5`` each image moves its class
    centre by ``1/B`` of its distance, a moving average over the sampled
    images. The batch mixes the instance-balanced environment and the
    re-weighted one (see ``IFLEnvSampler``), so the centres are estimated
    from both. The centres move only while the weight is > 0 (the released
    code's centre gradient is zero before that), so they keep their random
    normal initialisation until the first non-zero weight.

    The weight follows ``weights[i]`` from epoch ``milestones[i]`` on
    (``weights[0]`` before the first milestone); the published schedule is
    0 from epoch 0, 0.001 from 60 and 0.005 from 80 of 100 epochs.

    ``centers`` and ``num_updates`` are buffers, so checkpoints carry them
    and a resumed run continues exactly. Under data-parallel training the
    per-class sums, counts and the batch size are summed over the ranks
    before each step, so every rank holds the same centres. The epoch comes
    from ``ClassCountsHook`` (``set_epoch``).

    Args:
        num_classes: number of classes.
        feat_dim: dimension of the features.
        milestones: epochs (0-based) at which the weight changes.
        weights: the weight from each milestone on.
        center_lr: learning rate of the centres' SGD, in (0, 0.5]; above
            0.5 a class that fills the batch would step past its mean.
        init_seed: seed of the normal initialisation of the centres (the
            same centres on every rank without a broadcast).
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 milestones: Sequence[int] = (0, 60, 80),
                 weights: Sequence[float] = (0.0, 0.001, 0.005),
                 center_lr: float = 0.5,
                 init_seed: int = 0):
        super().__init__()
        self.num_classes = positive_int(num_classes, 'num_classes', _OWNER)
        self.feat_dim = positive_int(feat_dim, 'feat_dim', _OWNER)
        self.milestones, self.weights = _schedule(milestones, weights)
        self.center_lr = positive_number(center_lr, 'center_lr', _OWNER)
        if self.center_lr > 0.5:
            raise ValueError(f'{_OWNER}: center_lr must be in (0, 0.5], got '
                             f'{center_lr!r}')
        g = torch.Generator().manual_seed(int(init_seed))
        self.register_buffer(
            'centers', torch.randn(self.num_classes, self.feat_dim,
                                   generator=g))
        self.register_buffer('num_updates', torch.zeros((),
                                                        dtype=torch.long))

    def current_weight(self) -> float:
        """The weight of the centre loss in the current epoch."""
        epoch = self.require_epoch()
        weight = self.weights[0]
        for milestone, w in zip(self.milestones, self.weights):
            if epoch >= milestone:
                weight = w
        return weight

    def forward(self, feats: Tensor, labels: Tensor) -> Tensor:
        if feats.dim() != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(
                f'{_OWNER}: expected features of shape (N, {self.feat_dim}),'
                f' got {tuple(feats.shape)}')
        weight = self.current_weight()
        feats = feats.float()
        centres = self.centers.to(feats.device)[labels]
        dist = (feats - centres).pow(2).sum(dim=1)
        # The clamp is IFL's: it bounds a diverged feature's contribution.
        loss = weight * dist.clamp(min=1e-12, max=1e12).mean()
        if self.training and weight > 0:
            self.update(feats.detach(), labels)
        return loss

    @torch.no_grad()
    def update(self, feats: Tensor, labels: Tensor) -> None:
        """One step of the centres' SGD on a batch (all ranks together)."""
        device = self.centers.device
        feats = feats.to(device, torch.float64)
        labels = labels.to(device)
        sums = torch.zeros(self.num_classes, self.feat_dim,
                           dtype=torch.float64, device=device)
        sums.index_add_(0, labels, feats)
        counts = torch.bincount(labels, minlength=self.num_classes).to(
            torch.float64)
        total = torch.tensor([float(len(labels))], dtype=torch.float64,
                             device=device)
        if is_distributed():
            for t in (sums, counts, total):
                all_reduce(t)
        if total.item() == 0:
            return
        centres = self.centers.to(torch.float64)
        rate = 2 * self.center_lr / total
        step = (sums - counts[:, None] * centres) * rate
        self.centers.copy_((centres + step).to(self.centers.dtype))
        self.num_updates += 1
