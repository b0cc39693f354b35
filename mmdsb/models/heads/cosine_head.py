"""Cosine (normalised linear) classifier head, optionally with an
embedding layer, for the cosine-logit losses (NormSoftmax, LDAM, KPS,
GCL)."""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['CosineClsHead']


def _check_dims(owner: str, **dims) -> None:
    for name, value in dims.items():
        if value is not None and (isinstance(value, bool) or int(value) !=
                                  value or value < 1):
            raise ValueError(f'{owner}: {name} must be an integer >= 1, got '
                             f'{value!r}')


@MODELS.register_module()
class CosineClsHead(ClsHead):
    """Scores ``cos_j = w_j^T f / (|w_j| |f|)`` with no bias.

    The losses apply their own scale (``1/sigma``, ``s``, radius...), so
    the head returns bare cosines in ``[-1, 1]``; predictions rank by
    cosine, as in the authors' KPS/GCL/LDAM code. ``f`` is the backbone
    feature, or its image under a linear embedding layer when
    ``embed_dim`` is set (the 64-d embedding of metric learning); ``f`` is
    what a DSB head stores in its feature bank.

    Args:
        num_classes: number of classes.
        in_channels: dimension of the backbone feature.
        embed_dim: dimension of an optional linear embedding.
        loss: loss config; default ``NormSoftmaxLoss``.
        init_cfg: initialisation config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 embed_dim: Optional[int] = None,
                 loss: dict = dict(type='NormSoftmaxLoss'),
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        _check_dims(type(self).__name__, num_classes=num_classes,
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

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        f = self.pre_logits(feats)
        return F.linear(F.normalize(f, dim=1), F.normalize(self.weight,
                                                           dim=1))
