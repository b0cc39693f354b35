"""Builds the re-weighted environment of Invariant Feature Learning (IFL)
from the model's own predictions (Tang et al., ECCV 2022, released code's
``center_dual`` with ``env_type='intra'``)."""
import math
import numbers
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop
from torch import Tensor

from ..guards import positive_number

__all__ = ['IFLHook', 'ifl_intra_weights']

# Classes with fewer recorded images than this are sampled uniformly: the
# 80 / 20 split of the hardness scores needs a few images on each side.
MIN_CLASS_SIZE = 5
HEAD_SHARE, TAIL_SHARE = 0.8, 0.2  # the Pareto principle of the code


def ifl_intra_weights(scores: Tensor, labels: Tensor, seen: Tensor,
                      sample_scale: float = 4.0) -> Tensor:
    """Per-image sampling weights of IFL's re-weighted environment.

    ``scores[i]`` is the probability the model gave image ``i``'s true
    class, ``seen[i]`` whether it was recorded at all. Every class with
    recorded images gets a total weight of 1 (class-balanced); inside a
    class of ``n >= 5`` images the hardness ``h = |1 - s'| + 1e-5`` of the
    min-max normalised score ``s'`` is raised to the power ``e`` that makes
    the mean of the hardest 20 % ``sample_scale`` times the mean of the
    other 80 % (``e = log(sample_scale) / log(tail / head)``, clamped to
    [1, 10]), then normalised to sum to 1. A class of fewer than 5 recorded
    images shares its weight equally. Images never recorded get 0, as in
    the released code. float64 throughout.
    """
    scores = torch.as_tensor(scores, dtype=torch.float64)
    labels = torch.as_tensor(labels, dtype=torch.long)
    seen = torch.as_tensor(seen, dtype=torch.bool)
    if not (scores.shape == labels.shape == seen.shape) or scores.dim() != 1:
        raise ValueError('ifl_intra_weights: scores, labels and seen must be'
                         ' 1-D and of the same length')
    if not bool(seen.any()):
        raise ValueError('ifl_intra_weights: no image was recorded')
    tg = positive_number(sample_scale, 'sample_scale', 'ifl_intra_weights')
    weights = torch.zeros_like(scores)
    for c in torch.unique(labels[seen]).tolist():
        idx = torch.nonzero(seen & (labels == c)).flatten()
        n = idx.numel()
        if n < MIN_CLASS_SIZE:
            weights[idx] = 1.0 / n
            continue
        s = scores[idx] - scores[idx].min()
        s = s / (s.max() + 1e-9)
        hard = (1.0 - s).abs() + 1e-5
        head = torch.topk(hard, int(n * HEAD_SHARE), largest=False)[0].mean()
        tail = torch.topk(hard, int(n * TAIL_SHARE), largest=True)[0].mean()
        ratio = float(tail / head) + 1e-5
        exponent = min(max(math.log(tg) / math.log(ratio), 1.0), 10.0)
        w = hard.pow(exponent) + 1e-12
        weights[idx] = w / w.sum()
    return weights


def _milestones(value) -> tuple:
    ms = list(value)
    if any(isinstance(m, bool) or not isinstance(m, numbers.Integral)
           or m < 0 for m in ms):
        raise ValueError(f'IFLHook: update_milestones must be epochs '
                         f'(integers >= 0), got {value!r}')
    return tuple(sorted({int(m) for m in ms}))


@HOOKS.register_module()
class IFLHook(Hook):
    """At the end of each epoch listed in ``update_milestones`` (0-based,
    as ``runner.epoch``), replaces the weights of the re-weighted
    environment of the ``IFLEnvSampler`` by :func:`ifl_intra_weights` of
    the true-class probabilities the IFL head recorded during that epoch.

    An image drawn several times in the epoch is scored by the mean of its
    probabilities (the released code keeps the last one, an order that
    several ranks do not define). Under data-parallel training the per-image
    sums and counts are summed over the ranks, so every rank builds the
    same environment. The weights go into the checkpoint
    (``ifl_env_weights``), so a resumed run samples as the original would.

    Add it to ``default_hooks`` (a dict survives inheritance next to
    ``custom_hooks`` such as ``DSBHook``)::

        default_hooks = dict(ifl=dict(type='IFLHook'))

    Args:
        update_milestones: epochs after which the environment is rebuilt;
            the published schedule is (60, 80) of 100 epochs.
        sample_scale: the target ratio of the hardest 20 % of a class to
            the other 80 % (4.0 published).
    """

    priority = 'NORMAL'

    def __init__(self,
                 update_milestones: Sequence[int] = (60, 80),
                 sample_scale: float = 4.0):
        self.update_milestones = _milestones(update_milestones)
        self.sample_scale = positive_number(sample_scale, 'sample_scale',
                                            'IFLHook')
        self._sampler = None
        self._head = None
        self._loaded: Optional[Tensor] = None
        self._sum: Optional[Tensor] = None
        self._count: Optional[Tensor] = None

    @staticmethod
    def _find_sampler(runner):
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        if not hasattr(sampler, 'set_env_weights'):
            sampler = getattr(getattr(loader, 'batch_sampler', None),
                              'sampler', None)
        if not hasattr(sampler, 'set_env_weights'):
            raise TypeError(
                'IFLHook needs the IFL environments: set train_dataloader.'
                "sampler = dict(type='IFLEnvSampler'), got "
                f'{type(sampler).__name__}')
        return sampler

    @staticmethod
    def _find_head(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        heads = [m for m in model.modules()
                 if hasattr(m, 'record_env_scores')]
        if len(heads) != 1:
            raise TypeError(
                'IFLHook needs exactly one IFL head (IFLLinearClsHead or '
                f'DSBIFLLinearClsHead) in the model, found {len(heads)}')
        return heads[0]

    def before_train(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError(
                'IFLHook rebuilds the environment after whole epochs: use '
                'an epoch-based train_cfg (by_epoch=True)')
        self._sampler = self._find_sampler(runner)
        self._head = self._find_head(runner)
        if self._loaded is not None:
            self._sampler.set_env_weights(self._loaded)
            self._loaded = None

    def before_train_epoch(self, runner) -> None:
        record = runner.epoch in self.update_milestones
        self._head.record_env_scores = record
        self._head.env_scores = None
        if record:
            n = len(self._sampler.labels)
            self._sum = torch.zeros(n, dtype=torch.float64)
            self._count = torch.zeros(n, dtype=torch.float64)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        scores, self._head.env_scores = self._head.env_scores, None
        if scores is None or self._sum is None:
            return
        index, prob = scores
        self._sum.index_add_(0, index, prob.to(torch.float64))
        self._count.index_add_(0, index, torch.ones_like(self._sum[index]))

    def after_train_epoch(self, runner) -> None:
        if runner.epoch not in self.update_milestones or self._sum is None:
            return
        self._head.record_env_scores = False
        total, count = self._sum, self._count
        self._sum = self._count = None
        if is_distributed():
            all_reduce(total)
            all_reduce(count)
        seen = count > 0
        scores = torch.where(seen, total / count.clamp_min(1), total)
        weights = ifl_intra_weights(scores, self._sampler.labels, seen,
                                    self.sample_scale)
        self._sampler.set_env_weights(weights)
        runner.logger.info(
            f'IFLHook: epoch {runner.epoch + 1}: re-weighted environment '
            f'rebuilt from {int(seen.sum())} of {len(seen)} images '
            f'({int(torch.unique(self._sampler.labels[seen]).numel())} '
            'classes)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._sampler is not None:
            checkpoint['ifl_env_weights'] = self._sampler.env_weights.clone()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        weights = checkpoint.get('ifl_env_weights')
        if weights is None:
            return
        if self._sampler is not None:
            self._sampler.set_env_weights(weights)
        else:
            self._loaded = weights
