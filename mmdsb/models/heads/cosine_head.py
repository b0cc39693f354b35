"""Cosine (normalised linear) classifier head, optionally with an
embedding layer, for the cosine-logit losses (NormSoftmax, LDAM, KPS,
GCL), and what it shares with the SoftTriple head as a metric-learning
head: the embedding in every prediction and class-balanced weights."""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer
from ...guards import fraction, positive_int
from ..losses.class_balanced import effective_number_weights
from .dsb_head import DSBHeadMixin, sample_weights

__all__ = [
    'CosineClsHead', 'DSBCosineClsHead', 'ClassBalancedWeights',
    'EmbeddingHeadMixin'
]


def check_dims(owner: str, **dims) -> None:
    """Each dimension must be a positive integer or ``None`` (unused)."""
    for name, value in dims.items():
        if value is not None:
            positive_int(value, name, owner)


class ClassBalancedWeights(ClassCountsConsumer, nn.Module):
    """Cui et al.'s class-balanced weights ``(1 - beta) / (1 - beta^n_c)``
    (normalised to sum to the number of classes, as
    :class:`ClassBalancedLoss`) for a head whose loss is not
    cross-entropy. ``ClassCountsHook`` hands it the training counts; it
    holds no parameters or buffers, so checkpoints do not change.

    Args:
        beta: effective-number hyper-parameter in [0, 1).
    """

    def __init__(self, beta: float):
        super().__init__()
        self.beta = fraction(beta, 'cb_beta')

    def forward(self, num_classes: int) -> Tensor:
        return effective_number_weights(
            self.require_class_counts(num_classes), self.beta)


class EmbeddingHeadMixin:
    """What the metric-learning heads add to ``ClsHead``.

    - ``predict`` stores each sample's embedding (the output of
      ``pre_logits``: the linear embedding layer, or the backbone feature
      without one) in its data sample under ``embedding``, next to the
      class scores; retrieval on classes never seen in training
      (``RetrievalMetric(embedding_key='embedding')``) needs it.
    - With ``cb_beta`` the loss of every sample is multiplied by the
      class-balanced weight ``w_y`` of its class (CB-NSM, CB-ST): the
      batch loss is ``mean(w_y * L)``, times the DSB weight ``a_y`` in a
      DSB head.

    The class defines ``scores(embedding)``.
    """

    def _init_class_balance(self, cb_beta: Optional[float]) -> None:
        self.cb_beta = cb_beta
        self.class_balance = None if cb_beta is None else \
            ClassBalancedWeights(cb_beta)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.scores(self.pre_logits(feats))

    def predict(self, feats: Tuple[Tensor],
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        embedding = self.pre_logits(feats)
        predictions = self._get_predictions(self.scores(embedding),
                                            data_samples)
        for sample, emb in zip(predictions, embedding.detach()):
            sample.set_field(emb, 'embedding')
        return predictions

    def _get_loss(self, cls_score: Tensor, data_samples: List[DataSample],
                  **kwargs) -> dict:
        if self.class_balance is not None:
            if 'gt_score' in data_samples[0]:
                target = torch.stack([s.gt_score for s in data_samples])
            else:
                target = torch.cat([s.gt_label for s in data_samples])
            w = sample_weights(
                self.class_balance(cls_score.shape[1]).to(
                    cls_score.device, torch.float32),
                target.to(cls_score.device))
            # A DSB head's a_y and the class-balanced weight multiply.
            weight = kwargs.get('weight')
            kwargs['weight'] = w if weight is None else weight * w
        return super()._get_loss(cls_score, data_samples, **kwargs)


@MODELS.register_module()
class CosineClsHead(EmbeddingHeadMixin, ClsHead):
    """Scores ``cos_j = w_j^T f / (|w_j| |f|)`` with no bias.

    The losses apply their own scale (``1/sigma``, ``s``, radius...), so
    the head returns bare cosines in ``[-1, 1]``; predictions rank by
    cosine, as in the authors' KPS/GCL/LDAM code. ``f`` is the backbone
    feature, or its image under a linear embedding layer when
    ``embed_dim`` is set (the 64-d embedding of metric learning); ``f`` is
    what a DSB head stores in its feature bank and what ``predict`` puts
    in each data sample as ``embedding`` (see :class:`EmbeddingHeadMixin`).

    Args:
        num_classes: number of classes.
        in_channels: dimension of the backbone feature.
        embed_dim: dimension of an optional linear embedding.
        loss: loss config; default ``NormSoftmaxLoss``.
        cb_beta: ``beta`` of class-balanced sample weights (e.g. 0.9999
            for CB-NSM; needs ``ClassCountsHook``); ``None``: none.
        init_cfg: initialisation config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 embed_dim: Optional[int] = None,
                 loss: dict = dict(type='NormSoftmaxLoss'),
                 cb_beta: Optional[float] = None,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        self._init_class_balance(cb_beta)
        check_dims(type(self).__name__, num_classes=num_classes,
                   in_channels=in_channels, embed_dim=embed_dim)
        self.num_classes, self.in_channels = num_classes, in_channels
        self.embed_dim = embed_dim
        self.embed = nn.Linear(in_channels, embed_dim) if embed_dim else None
        dim = embed_dim or in_channels
        self.weight = nn.Parameter(torch.empty(num_classes, dim))
        # The normalised-linear init of the LDAM/KPS code.
        nn.init.uniform_(self.weight, -1.0 / math.sqrt(dim),
                         1.0 / math.sqrt(dim))

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        f = feats[-1]
        return self.embed(f) if self.embed is not None else f

    def scores(self, f: Tensor) -> Tensor:
        return F.linear(F.normalize(f, dim=1), F.normalize(self.weight,
                                                           dim=1))


@MODELS.register_module()
class DSBCosineClsHead(DSBHeadMixin, CosineClsHead):
    """:class:`CosineClsHead` with Dynamic Semantic-Scale-Balanced loss
    weights (see :class:`DSBHeadMixin`); the bank holds the embedding
    ``f``. Same arguments and state-dict keys."""
