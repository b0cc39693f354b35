"""MBJ+RIDE: Memory-based Jitter on RIDE's experts."""
from typing import List, Tuple

import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer
from ...guards import non_negative_number
from ..utils import FeatureMemory
from .mbj_head import MBJLinearClsHead
from .ride_head import RIDEHead

__all__ = ['MBJRIDEHead']


@MODELS.register_module()
class MBJRIDEHead(ClassCountsConsumer, RIDEHead):
    """:class:`RIDEHead` that also learns from a memory of earlier expert
    features, as :class:`MBJLinearClsHead` does for a linear head.

    Each training step, with ``x_i`` the ``(N, D)`` feature of expert ``i``
    of ``E`` and ``z_i(f) = s * cos(f, W_i)`` its classifier:

    1. ``loss``: the RIDE loss of the batch, exactly :class:`RIDEHead`'s;
    2. ``loss_mbj``: on the memory as it was before this batch, each row
       split back into ``E`` parts ``f_m = [f_m1 | ... | f_mE]`` (detached,
       so only the classifiers learn from it),
       ``memory_loss_weight * mean_i mean_m CE(z_i(f_mi), y_m)``; zero while
       the memory is empty;
    3. the batch's ``(N, E * D)`` rows ``[x_1 | ... | x_E]``, gathered over
       all ranks, enter the memory (:class:`FeatureMemory`), a row of class
       ``c`` with probability ``p_c = (n_min / n_c) ** admit_power``.

    One memory over the concatenated features, not one per expert: one
    admission draw per sample, so every expert learns from the same
    jittered samples, with the same labels and class mix. Independent
    draws per expert would make the experts' memory terms differ by chance
    and add a diversity that RIDE's own diversity term does not control.
    The memory costs as much as ``E`` memories of ``D``-d features.

    Evaluation (and the loss in eval mode) is :class:`RIDEHead`'s; the
    memory is a set of buffers, so checkpoints carry it.

    Args:
        memory_size: entries of the memory (8192).
        memory_loss_weight: weight of the memory loss (1).
        admit_power: exponent of the admission probability (1); 0 admits
            every row.
        seed: seed of the admission draws, the same on every rank (0).
        Others: see :class:`RIDEHead`.
    """

    admit_prob = MBJLinearClsHead.admit_prob

    def __init__(self,
                 *args,
                 memory_size: int = 8192,
                 memory_loss_weight: float = 1.0,
                 admit_power: float = 1.0,
                 seed: int = 0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        owner = type(self).__name__
        self.memory_loss_weight = non_negative_number(
            memory_loss_weight, 'memory_loss_weight', owner)
        self.admit_power = non_negative_number(admit_power, 'admit_power',
                                               owner)
        self.memory = FeatureMemory(memory_size,
                                    self.num_experts * self.in_channels,
                                    seed=seed)

    def memory_loss(self, like: Tensor) -> Tensor:
        """Mean over the experts of each expert's mean cross-entropy on
        its part of the memory's entries; zero while the memory is
        empty."""
        feats, labels = self.memory.entries()
        if not labels.numel():
            return like.new_zeros(())
        # Copies: backward needs them after push has overwritten the slots.
        feats = feats.to(like.dtype, copy=True).view(
            -1, self.num_experts, self.in_channels)
        logits = self.expert_logits(feats)  # (M, E, C)
        # Every expert has M terms: the mean of all is the mean of means.
        targets = labels.clone()[:, None].expand(-1, self.num_experts)
        return F.cross_entropy(logits.transpose(1, 2), targets)

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        pre = self.pre_logits(feats)
        logits = self.expert_logits(pre)
        labels = self.labels(data_samples).to(logits.device)
        losses = dict(loss=self.loss_module(logits, labels, **kwargs))
        if not self.training:
            return losses
        losses['loss_mbj'] = self.memory_loss_weight * self.memory_loss(logits)
        self.memory.push(pre.flatten(1), labels, self.admit_prob())
        return losses
