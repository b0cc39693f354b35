"""A DSB feature bank of one RIDE expert (or of the experts' mean)."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from ...engine.consumer import DSBConsumer

__all__ = ['RIDEExpertBank']


class RIDEExpertBank(DSBConsumer, nn.Module):
    """A module without weights that DSBHook finds as a DSB consumer: it
    hands one feature per sample to its own bank and returns the class
    weights. :class:`DSBRIDEHead` holds one (the experts' mean feature) or
    one per expert; being modules, they get their own banks and their
    names in the checkpoint's ``dsb_banks``.

    Args:
        num_classes: number of classes of the bank.
    """

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        # An empty tensor that follows the model's device (.cuda(), .to())
        # and stays out of checkpoints: DSBHook puts the bank where it is.
        self.register_buffer('device_anchor', torch.empty(0),
                             persistent=False)

    def observe(self, feats: Tensor, labels: Tensor,
                batch_ids: Tensor) -> Optional[Tensor]:
        """``(C,)`` class weights in the re-weighting stage, else None."""
        weighter = self.dsb_checked_weighter(self.num_classes)
        return weighter.observe(feats, labels, batch_ids=batch_ids)
