"""DSB forms of mmpretrain's classification heads.

A DSB head is the wrapped head with two additions: it hands its pre-logit
features and labels to the :class:`SemanticScaleWeighter` that
:class:`DSBHook` attaches to it, and, once the weighter returns class
weights, it passes the per-sample weight ``a_y`` to the wrapped loss. Outside
the re-weighting stage the loss is exactly the wrapped head's loss, and the
parameters (hence checkpoints) are the wrapped head's.

This module wraps every mmpretrain 1.2 head that computes its logits from
``pre_logits`` and keeps ``ClsHead``'s loss; the DSB forms of mmdsb's own
heads are defined next to them. Any other head that meets the same
conditions (see :class:`DSBHeadMixin`) gets its DSB form the same way::

    @MODELS.register_module()
    class DSBMyHead(DSBHeadMixin, MyHead):
        '''MyHead with DSB loss weights.'''
"""
from typing import List, Tuple

import torch
from mmpretrain.models.heads import (LeViTClsHead, LinearClsHead,
                                     StackedLinearClsHead, VigClsHead,
                                     VisionTransformerClsHead)
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.consumer import DSBConsumer

__all__ = [
    'DSBHeadMixin', 'DSBLinearClsHead', 'DSBStackedLinearClsHead',
    'DSBVisionTransformerClsHead', 'DSBLeViTClsHead', 'DSBVigClsHead',
    'sample_weights', 'check_sample_labels'
]


def check_sample_labels(labels: Tensor, num_classes: int,
                        data_samples: List[DataSample]) -> None:
    """Raise an error naming the samples (their image paths where the data
    samples carry them) whose labels are not class indices of the head."""
    bad = ((labels < 0) | (labels >= num_classes)).nonzero().flatten()
    if not bad.numel():
        return
    shown = [
        f"{data_samples[i].get('img_path', f'sample {i} of the batch')} "
        f'(label {int(labels[i])})' for i in bad[:5].tolist()
    ]
    more = f' and {bad.numel() - 5} more' if bad.numel() > 5 else ''
    raise ValueError(
        f'labels must be class indices in [0, {num_classes}) of the head, '
        f"got: {', '.join(shown)}{more}; check the annotation file and the "
        "head's num_classes")


def sample_weights(class_weights: Tensor, target: Tensor) -> Tensor:
    """Per-sample weights from class weights: ``a_y`` for hard labels, the
    target-weighted mean of ``a`` for soft (Mixup/CutMix) targets."""
    if target.dim() == 1:
        return class_weights[target]
    target = target.to(class_weights.dtype)
    return (target @ class_weights) / target.sum(dim=1).clamp_min(1e-12)


class DSBHeadMixin(DSBConsumer):
    """Adds DSB re-weighting to a :class:`ClsHead` subclass.

    The head must compute its logits from ``self.pre_logits`` and use
    ``ClsHead.loss``/``ClsHead._get_loss``, as mmpretrain's linear, stacked
    linear and vision-transformer heads do. The mixin comes first in the
    bases (``class DSBMyHead(DSBHeadMixin, MyHead)``) so that its
    ``pre_logits`` and ``loss`` wrap the head's.
    """

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        pre = super().pre_logits(feats)
        if self.training:
            self._dsb_pre_logits = pre
        return pre

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        self._dsb_pre_logits = None
        cls_score = self(feats)
        pre = self._dsb_pre_logits
        self._dsb_pre_logits = None
        if pre is None:
            raise RuntimeError(
                f'{type(self).__name__}.forward did not call pre_logits; '
                'DSB cannot capture the classifier input of this head')
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
            labels = target.argmax(dim=1)
        else:
            target = labels = torch.cat([s.gt_label for s in data_samples])
        num_classes = cls_score.shape[1]
        weighter = self.dsb_checked_weighter(num_classes)
        check_sample_labels(labels, num_classes, data_samples)
        class_weights = weighter.observe(
            pre, labels, batch_ids=torch.arange(len(labels)))
        if class_weights is not None:
            # float32 whatever the autocast dtype: bf16 would quantise the
            # weights to steps of 2^-9, and the weighted loss with them.
            kwargs['weight'] = sample_weights(
                class_weights.to(cls_score.device, torch.float32),
                target.to(cls_score.device))
        return self._get_loss(cls_score, data_samples, **kwargs)


@MODELS.register_module()
class DSBLinearClsHead(DSBHeadMixin, LinearClsHead):
    """mmpretrain's ``LinearClsHead`` with Dynamic Semantic-Scale-Balanced
    loss weights (see :class:`DSBHeadMixin`); the bank holds the input of
    its linear layer. Same arguments and state-dict keys."""


@MODELS.register_module()
class DSBStackedLinearClsHead(DSBHeadMixin, StackedLinearClsHead):
    """mmpretrain's ``StackedLinearClsHead`` with Dynamic
    Semantic-Scale-Balanced loss weights (see :class:`DSBHeadMixin`); the
    bank holds the input of its last linear layer. Same arguments and
    state-dict keys."""


@MODELS.register_module()
class DSBVisionTransformerClsHead(DSBHeadMixin, VisionTransformerClsHead):
    """mmpretrain's ``VisionTransformerClsHead`` with Dynamic
    Semantic-Scale-Balanced loss weights (see :class:`DSBHeadMixin`); the
    bank holds the class token after the optional hidden layer. Same
    arguments and state-dict keys."""


@MODELS.register_module()
class DSBLeViTClsHead(DSBHeadMixin, LeViTClsHead):
    """mmpretrain's ``LeViTClsHead`` with Dynamic Semantic-Scale-Balanced
    loss weights (see :class:`DSBHeadMixin`). mmpretrain trains it only with
    ``distillation=False``. Same arguments and state-dict keys."""


@MODELS.register_module()
class DSBVigClsHead(DSBHeadMixin, VigClsHead):
    """mmpretrain's ``VigClsHead`` (Vision GNN) with Dynamic
    Semantic-Scale-Balanced loss weights (see :class:`DSBHeadMixin`); the
    bank holds the output of its hidden layer. Same arguments and
    state-dict keys."""
