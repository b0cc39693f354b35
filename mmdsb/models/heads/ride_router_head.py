"""RIDE's expert assignment (its second training stage)."""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...guards import positive_int, positive_number
from .ride_head import RIDEHead

__all__ = ['RIDERouterHead']


@MODELS.register_module()
class RIDERouterHead(RIDEHead):
    """A trained :class:`RIDEHead` with RIDE's router: before expert
    ``i + 1``, a small network reads expert ``i``'s (L2-normalised) pooled
    feature and the ``top_choices`` largest mean logits of experts
    ``0..i``, and predicts whether the next experts are needed; an image
    stops at the first expert whose router says no (sigmoid < 0.5), and
    its prediction is the mean logits of the experts it used.

    Training (RIDE's stage 2, the rest of the network frozen: use
    ``RIDEResNet(frozen=True)``; the classifiers here are frozen): the
    router after expert ``i`` learns, by binary cross-entropy with
    ``pos_weight``, whether the mean of experts ``0..i`` is wrong and some
    later cumulative mean is right; the loss averages the routers.

    The backbone still runs every expert, so the routing decides the
    prediction but does not save the computation of the skipped experts.

    Args:
        top_choices: number of largest mean logits the router reads (50
            in the authors' ImageNet-LT and iNaturalist configs).
        pos_weight: weight of the positive ("needs more experts") class
            (100 there).
        hidden_channels: width of each router's hidden layer (16).
        Others: see :class:`RIDEHead`.
    """

    def __init__(self,
                 *args,
                 top_choices: int = 50,
                 pos_weight: float = 100.0,
                 hidden_channels: int = 16,
                 **kwargs):
        super().__init__(*args, **kwargs)
        owner = type(self).__name__
        if self.num_experts < 2:
            raise ValueError(f'{owner}: routing needs num_experts >= 2, got '
                             f'{self.num_experts}')
        self.top_choices = positive_int(top_choices, 'top_choices', owner)
        if self.top_choices > self.num_classes:
            raise ValueError(f'{owner}: top_choices={top_choices} exceeds '
                             f'num_classes={self.num_classes}')
        self.pos_weight = positive_number(pos_weight, 'pos_weight', owner)
        hidden = positive_int(hidden_channels, 'hidden_channels', owner)
        # The trained classifiers stay as they are; only the router learns.
        self.weight.requires_grad_(False)
        self.router_hidden = nn.ModuleList(
            nn.Linear(self.in_channels, hidden)
            for _ in range(self.num_experts - 1))
        # One output layer shared by the routers, as in the authors' code.
        self.router_out = nn.Linear(hidden + self.top_choices, 1)

    def router_logits(self, feat: Tensor, mean_logits: Tensor,
                      i: int) -> Tensor:
        """``(N,)`` logits of "expert ``i + 1`` and later are needed"."""
        h = F.relu(self.router_hidden[i](F.normalize(feat, dim=1)))
        top = mean_logits.topk(self.top_choices, dim=1).values
        return self.router_out(torch.cat([top, h], dim=1)).squeeze(1)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        pre = self.pre_logits(feats)
        z = self.expert_logits(pre)
        total = z[:, 0]
        used = z.new_ones(z.shape[0], 1)
        active = torch.ones(z.shape[0], dtype=torch.bool, device=z.device)
        for i in range(1, self.num_experts):
            go = self.router_logits(pre[:, i - 1], total / used, i - 1) > 0
            active = active & go
            total = total + active[:, None] * z[:, i]
            used = used + active[:, None]
        return total / used

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        pre = self.pre_logits(feats).detach()
        with torch.no_grad():
            cumulative = self.expert_logits(pre).cumsum(dim=1)
        labels = self.labels(data_samples).to(pre.device)
        # correct[:, i]: the mean of experts 0..i predicts the label.
        correct = cumulative.argmax(dim=2) == labels[:, None]
        loss = pre.new_zeros(())
        for i in range(self.num_experts - 1):
            target = ~correct[:, i] & correct[:, i + 1:].any(dim=1)
            pred = self.router_logits(pre[:, i], cumulative[:, i] / (i + 1),
                                      i)
            loss = loss + F.binary_cross_entropy_with_logits(
                pred, target.to(pred.dtype),
                pos_weight=pred.new_tensor(self.pos_weight))
        return dict(loss=loss / (self.num_experts - 1))
