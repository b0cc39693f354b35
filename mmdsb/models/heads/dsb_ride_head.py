"""DSB+RIDE: RIDE's per-expert classification terms weighted by DSB."""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from .ride_expert_bank import RIDEExpertBank
from .ride_head import RIDEHead

__all__ = ['DSBRIDEHead']

BANKS = ('mean', 'per_expert')


@MODELS.register_module()
class DSBRIDEHead(RIDEHead):
    """:class:`RIDEHead` whose loss weighs each expert's classification
    term by the DSB weight ``a_y`` of the sample's class (which replaces
    the DRW weights of :class:`RIDELoss`; the diversity term is
    unchanged). Outside the re-weighting stage the loss is RIDE's, and the
    parameters (hence checkpoints) are :class:`RIDEHead`'s.

    Args:
        dsb_bank: what feeds the feature bank. ``'mean'``: one bank of the
            mean of the experts' features, whose weights every expert
            uses; ``'per_expert'``: one bank per expert (a DSB consumer
            each, as the stages of a cascade head), expert ``i`` weighted
            by the scales of its own features.
        Others: see :class:`RIDEHead`.
    """

    def __init__(self, *args, dsb_bank: str = 'mean', **kwargs):
        super().__init__(*args, **kwargs)
        if dsb_bank not in BANKS:
            raise ValueError(f"DSBRIDEHead: dsb_bank must be 'mean' or "
                             f"'per_expert', got {dsb_bank!r}")
        self.dsb_bank = dsb_bank
        banks = 1 if dsb_bank == 'mean' else self.num_experts
        self.dsb_banks = nn.ModuleList(
            RIDEExpertBank(self.num_classes) for _ in range(banks))

    @property
    def dsb_weighter(self):
        """The weighter of the first bank (the only one with ``'mean'``),
        for reports; each bank has its own."""
        return self.dsb_banks[0].dsb_weighter

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        pre = self.pre_logits(feats)
        logits = self.expert_logits(pre)
        labels = self.labels(data_samples).to(logits.device)
        batch_ids = torch.arange(len(labels))
        if self.dsb_bank == 'mean':
            inputs = [pre.mean(dim=1)]
        else:
            inputs = pre.unbind(dim=1)
        weights = []
        for bank, x in zip(self.dsb_banks, inputs):
            class_weights = bank.observe(x, labels, batch_ids)
            # float32 whatever the autocast dtype (see DSBHeadMixin).
            weights.append(None if class_weights is None else
                           class_weights.to(logits.device,
                                            torch.float32)[labels])
        weight = weights[0] if self.dsb_bank == 'mean' else weights
        return dict(
            loss=self.loss_module(logits, labels, weight=weight, **kwargs))
