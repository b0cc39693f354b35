"""Learnable weight scaling (LWS) of a trained linear classifier."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from torch import Tensor

from .dsb_head import DSBHeadMixin

__all__ = ['LWSLinearClsHead', 'DSBLWSLinearClsHead']


@MODELS.register_module()
class LWSLinearClsHead(LinearClsHead):
    """A frozen linear classifier whose logits are rescaled per class::

        logits = (W x + b) * s,    s = scales (one per class, init 1)

    Learnable weight scaling (LWS) of Kang et al., *Decoupling
    Representation and Classifier for Long-Tailed Recognition*, ICLR 2020:
    after representation learning, only the class scales ``s`` are trained
    (usually with class-balanced sampling, see
    :class:`~mmdsb.datasets.ClassAwareSampler`); as in the authors' code
    the bias is scaled with the weights.

    ``fc`` has the name and shape of :class:`LinearClsHead`'s, so a
    stage-1 checkpoint's ``head.fc.weight`` and ``head.fc.bias`` load into
    it (``scales`` is missing from such a checkpoint and stays at 1), but
    its parameters have ``requires_grad=False``, re-applied after
    ``init_weights()`` and ``train()``. The logits come from
    ``self.pre_logits``, so the DSB twin (``DSBLWSLinearClsHead``) sees the
    classifier input.

    Args:
        num_classes, in_channels, init_cfg, **kwargs: as for
            :class:`LinearClsHead` (``loss``, ``topk``, ``cal_acc``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        super().__init__(num_classes, in_channels, init_cfg=init_cfg,
                         **kwargs)
        self.scales = nn.Parameter(torch.ones(num_classes))
        self._freeze_fc()

    def _freeze_fc(self) -> None:
        self.fc.requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        self._freeze_fc()

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_fc()
        return self

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.fc(self.pre_logits(feats)) * self.scales


@MODELS.register_module()
class DSBLWSLinearClsHead(DSBHeadMixin, LWSLinearClsHead):
    """:class:`LWSLinearClsHead` with Dynamic Semantic-Scale-Balanced loss
    weights (see :class:`DSBHeadMixin`); the bank holds the input of the
    frozen classifier. Same arguments and state-dict keys."""
