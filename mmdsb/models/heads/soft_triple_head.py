"""SoftTriple head: K normalised centres per class and the relaxed
similarity of Qian et al. (2019)."""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...guards import positive_int, positive_number
from .cosine_head import EmbeddingHeadMixin, check_dims
from .dsb_head import DSBHeadMixin

__all__ = ['SoftTripleHead', 'DSBSoftTripleHead']


@MODELS.register_module()
class SoftTripleHead(EmbeddingHeadMixin, ClsHead):
    """Scores ``D'_{f,c} = sum_k softmax_k(f^T w_c^k / gamma) f^T w_c^k``
    for L2-normalised ``f`` and centres ``w_c^k`` (paper App. F.1).

    The loss (:class:`SoftTripleLoss`) adds ``lambda`` and the margin
    ``delta``; this head adds the centre regulariser of the source as a
    separate ``loss_reg`` term::

        tau * sum_c sum_{k<l} sqrt(2 + 1e-5 - 2 w_c^k . w_c^l)
            / (C * K * (K - 1))

    A DSB sample weight multiplies the classification term only (eq. 6),
    as do class-balanced weights (``cb_beta``, CB-ST). ``predict`` puts
    the embedding (the ``pre_logits`` output) in each data sample (see
    :class:`EmbeddingHeadMixin`).

    Args:
        num_classes: number of classes.
        in_channels: dimension of the backbone feature.
        num_centers: ``K >= 1`` centres per class (10).
        gamma: temperature of the soft assignment to centres, ``> 0`` (0.1).
        tau: weight of the centre regulariser, ``>= 0`` (0.2).
        embed_dim: dimension of an optional linear embedding (e.g. 64).
        loss: loss config; default ``SoftTripleLoss``.
        cb_beta: ``beta`` of class-balanced sample weights (e.g. 0.9999;
            needs ``ClassCountsHook``); ``None``: none.
        init_cfg: initialisation config. The centres are drawn when the
            head is built (see :meth:`_init_centers`); ``init_weights``
            leaves them as they are (an ``init_cfg`` such as ``Normal``
            only reaches layers such as the embedding), except that a
            ``Pretrained`` checkpoint replaces them.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_centers: int = 10,
                 gamma: float = 0.1,
                 tau: float = 0.2,
                 embed_dim: Optional[int] = None,
                 loss: dict = dict(type='SoftTripleLoss'),
                 cb_beta: Optional[float] = None,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        self._init_class_balance(cb_beta)
        name = type(self).__name__
        check_dims(name, num_classes=num_classes, in_channels=in_channels,
                   embed_dim=embed_dim)
        num_centers = positive_int(num_centers, 'num_centers (K)', name)
        gamma = positive_number(gamma, 'the temperature gamma', name)
        if not tau >= 0:
            raise ValueError(f'{name}: tau must be >= 0, got {tau!r}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.num_centers, self.gamma, self.tau = num_centers, gamma, tau
        self.embed = nn.Linear(in_channels, embed_dim) if embed_dim else None
        dim = embed_dim or in_channels
        # Centre k of class c is row c * K + k.
        self.centers = nn.Parameter(torch.empty(num_classes * num_centers,
                                                dim))
        self._init_centers()

    @torch.no_grad()
    def _init_centers(self) -> None:
        """Draw the centres as the SoftTriple code does.

        The source keeps the centres as the columns of a ``dim x (C * K)``
        matrix initialised by ``kaiming_uniform_(a=sqrt(5))``, whose fan
        is ``C * K``: every coordinate is uniform in ``[-b, b]`` with
        ``b = 1 / sqrt(C * K)``, so a centre starts with norm about
        ``sqrt(dim / (3 * C * K))`` (0.146 for 64 dims and 100 classes,
        0.413 for 512). The values are drawn in that layout and stored
        transposed: from the same random state, the source's centres.
        """
        n, dim = self.centers.shape
        bound = 1.0 / math.sqrt(n)
        draw = self.centers.new_empty(dim, n).uniform_(-bound, bound)
        self.centers.copy_(draw.t())

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        f = feats[-1]
        return self.embed(f) if self.embed is not None else f

    def scores(self, f: Tensor) -> Tensor:
        f = F.normalize(f, dim=1)
        w = F.normalize(self.centers, dim=1)
        sim = (f @ w.t()).view(-1, self.num_classes, self.num_centers)
        assign = F.softmax(sim / self.gamma, dim=2)
        return (assign * sim).sum(dim=2)

    def center_regularizer(self) -> Tensor:
        k = self.num_centers
        if k == 1:
            return self.centers.new_zeros(())
        w = F.normalize(self.centers, dim=1).view(self.num_classes, k, -1)
        sim = w @ w.transpose(1, 2)  # C x K x K
        upper = torch.triu(torch.ones(k, k, dtype=torch.bool,
                                      device=sim.device), diagonal=1)
        dist = torch.sqrt(2.0 + 1e-5 - 2.0 * sim[:, upper])
        return dist.sum() / (self.num_classes * k * (k - 1))

    def _get_loss(self, cls_score: Tensor, data_samples: List[DataSample],
                  **kwargs) -> dict:
        losses = super()._get_loss(cls_score, data_samples, **kwargs)
        if self.tau > 0:
            losses['loss_reg'] = self.tau * self.center_regularizer()
        return losses


@MODELS.register_module()
class DSBSoftTripleHead(DSBHeadMixin, SoftTripleHead):
    """:class:`SoftTripleHead` with Dynamic Semantic-Scale-Balanced loss
    weights (DSB-ST, paper App. F.1, Eq. 6; see :class:`DSBHeadMixin`); the
    bank holds the embedding ``f``. Same arguments and state-dict keys."""
