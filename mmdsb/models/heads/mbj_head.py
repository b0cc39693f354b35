"""Memory-based Jitter (MBJ) for deep classification.

Liu, Zhang, Li, Zhang, Sun et al., *Memory-based Jitter: Improving Visual
Recognition on Long-tailed Data with Diversity In Memory*, AAAI 2022
(arXiv 2008.09809).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer
from ...guards import non_negative_number, positive_int
from ..utils import FeatureMemory

__all__ = ['MBJLinearClsHead']


@MODELS.register_module()
class MBJLinearClsHead(ClassCountsConsumer, LinearClsHead):
    """A linear head that also learns from a memory of historical features
    concentrated on the tail classes.

    The model changes a little every iteration, so the features that
    earlier editions of it gave to the same class differ (the "jitter");
    MBJ keeps them in a memory and trains the classifier on them as extra
    samples. Each training step:

    1. the batch loss, as :class:`LinearClsHead` computes it;
    2. the memory loss, softmax cross-entropy of the current classifier on
       every filled memory entry (features detached, so it trains the
       classifier only), averaged over the entries:
       ``loss_mbj = memory_loss_weight * mean_m CE(fc(f_m), y_m)``;
    3. the classifier inputs of the batch, gathered over all ranks, enter
       the memory (:class:`FeatureMemory`), a row of class ``c`` with
       probability ``p_c = (n_min / n_c) ** admit_power`` (``n`` the
       training counts from ``ClassCountsHook``): the rarest classes always,
       a head class rarely; with ``admit_power`` 1 each class admits about
       ``n_min`` features per epoch and the memory is near class-balanced.

    The memory loss uses the memory as it was before this batch entered,
    so that it holds earlier editions of the model only. Evaluation uses
    the linear classifier alone. The memory is a set of buffers of the
    head (see :class:`FeatureMemory`), so checkpoints carry it.

    Args:
        num_classes, in_channels, loss, ...: as :class:`LinearClsHead`.
        memory_size: entries of the memory (8192).
        memory_loss_weight: weight of the memory loss (1).
        admit_power: exponent of the admission probability (1); 0 admits
            every row.
        seed: seed of the admission draws, the same on every rank (0).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 memory_size: int = 8192,
                 memory_loss_weight: float = 1.0,
                 admit_power: float = 1.0,
                 seed: int = 0,
                 **kwargs):
        owner = type(self).__name__
        in_channels = positive_int(in_channels, 'in_channels', owner)
        super().__init__(num_classes, in_channels, **kwargs)
        self.memory_loss_weight = non_negative_number(
            memory_loss_weight, 'memory_loss_weight', owner)
        self.admit_power = non_negative_number(admit_power, 'admit_power',
                                               owner)
        self.memory = FeatureMemory(memory_size, in_channels, seed=seed)
        self._mbj_pre: Optional[Tensor] = None

    def admit_prob(self) -> Tensor:
        """``p_c = (n_min / n_c) ** admit_power`` per class (float64)."""
        counts = self.require_class_counts(self.num_classes)
        return (counts.min() / counts)**self.admit_power

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        pre = self.pre_logits(feats)
        if self.training:
            self._mbj_pre = pre
        return self.fc(pre)

    def memory_loss(self, like: Tensor) -> Tensor:
        """Mean cross-entropy of the classifier on the memory's entries;
        zero while the memory is empty."""
        feats, labels = self.memory.entries()
        if not labels.numel():
            return like.new_zeros(())
        # Copies: backward needs them after push has overwritten the slots.
        scores = self.fc(feats.to(like.dtype, copy=True))
        return F.cross_entropy(scores, labels.clone())

    def _get_loss(self, cls_score: Tensor, data_samples: List[DataSample],
                  **kwargs) -> dict:
        losses = super()._get_loss(cls_score, data_samples, **kwargs)
        if not self.training:
            return losses
        pre, self._mbj_pre = self._mbj_pre, None
        if pre is None:
            raise RuntimeError(
                f'{type(self).__name__}: the training loss needs the '
                "classifier input of the same step; call the head's loss "
                '(it runs forward first)')
        if 'gt_score' in data_samples[0]:
            raise ValueError(
                f'{type(self).__name__}: the memory holds hard labels; '
                'batch augmentations with soft targets (Mixup, CutMix) '
                'cannot fill it')
        labels = torch.cat([s.gt_label
                            for s in data_samples]).to(cls_score.device)
        losses['loss_mbj'] = self.memory_loss_weight * self.memory_loss(
            cls_score)
        self.memory.push(pre, labels, self.admit_prob())
        return losses
