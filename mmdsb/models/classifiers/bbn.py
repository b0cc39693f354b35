"""BBN (Zhou et al., *BBN: Bilateral-Branch Network with Cumulative
Learning for Long-Tailed Visual Recognition*, CVPR 2020) as an mmpretrain
classifier."""
import copy
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.class_counts_hook import EpochAware
from ...guards import positive_int

__all__ = ['BBNClassifier', 'bbn_alpha']


def bbn_alpha(epoch: int, decay_epochs: int) -> float:
    """Cumulative learning adaptor ``alpha = 1 - (epoch / decay_epochs)^2``.

    ``epoch`` counts the finished epochs (0 in the first one), which is
    the authors' ``epoch - 1`` with their 1-based epochs, so the first
    epoch trains the conventional branch alone (``alpha = 1``).
    """
    decay_epochs = positive_int(decay_epochs, 'decay_epochs', 'bbn_alpha')
    if isinstance(epoch, bool) or epoch != int(epoch) or not \
            0 <= epoch <= decay_epochs:
        raise ValueError(f'bbn_alpha: epoch must be an integer in [0, '
                         f'decay_epochs={decay_epochs}], got {epoch!r}')
    return 1.0 - (int(epoch) / decay_epochs)**2


@MODELS.register_module()
class BBNClassifier(EpochAware, ImageClassifier):
    """Bilateral-branch network with cumulative learning.

    The backbone (an mmpretrain ResNet-style backbone: ``ResNet``,
    ``ResNeXt``, ``ResNetV1d``, ...) is the shared trunk: its last residual
    block is taken out and becomes the conventional branch's block
    ``cb_block``, and a copy of it the re-balancing branch's ``rb_block``,
    so the branches share all but the last residual block as published.
    Each branch's feature map goes through the neck (global average
    pooling); the head is one linear layer over the concatenated
    ``2 * C``-dimensional features (``head.in_channels = 2 * C``).

    Training takes the interleaved batches of
    :class:`~mmdsb.datasets.BilateralSampler` (even positions: uniform
    sampler, conventional branch; odd positions: reversed sampler,
    re-balancing branch), runs each half through its branch (a separate
    forward pass, so batch normalisation sees each branch's batch alone, as
    in the authors' code) and mixes::

        z = W [2 alpha f_c ; 2 (1 - alpha) f_r] + b
          = 2 alpha W_c f_c + 2 (1 - alpha) W_r f_r + b
        L = alpha * loss(z, y_c) + (1 - alpha) * loss(z, y_r)

    with ``alpha = bbn_alpha(epoch, decay_epochs)``. The factor 2 and the
    single bias are those of the authors' code; the paper writes
    ``alpha W_c f_c + (1 - alpha) W_r f_r``. Inference feeds the image to
    both branches with equal weights, ``alpha = 0.5``:
    ``z = W_c f_c + W_r f_r + b``, the training form at ``alpha = 0.5``.

    ``alpha`` is a function of the epoch, set through :class:`EpochAware`
    by ``ClassCountsHook`` before every epoch from ``runner.epoch``, so a
    resumed run continues with the resumed epoch's ``alpha``.

    Args:
        backbone, neck, head, pretrained, train_cfg, data_preprocessor,
            init_cfg: as for mmpretrain's ``ImageClassifier``.
        decay_epochs: ``T_max`` of the adaptor; ``None`` uses the number
            of training epochs (the paper). The authors' code divides by
            100 for a 90-epoch and by 200 for a 180-epoch schedule, so the
            published 90-epoch models end with ``alpha = 0.21``, not 0.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 decay_epochs: Optional[int] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        self.decay_epochs = None if decay_epochs is None else positive_int(
            decay_epochs, 'decay_epochs', 'BBNClassifier')
        stage = self._last_stage()
        # The last block becomes the conventional branch; its copy (same
        # structure, initialised in init_weights) the re-balancing branch.
        self.cb_block = stage[-1]
        del stage[-1]
        self.rb_block = copy.deepcopy(self.cb_block)

    def _last_stage(self) -> nn.Sequential:
        names = getattr(self.backbone, 'res_layers', None)
        out = getattr(self.backbone, 'out_indices', None)
        if not names or out is None:
            raise TypeError(
                'BBNClassifier needs a ResNet-style backbone (res_layers, '
                f'out_indices), got {type(self.backbone).__name__}')
        if tuple(out) not in ((len(names) - 1, ), (-1, )):
            raise ValueError(
                'BBNClassifier: the backbone must output its last stage '
                f'only (out_indices=({len(names) - 1}, )), got {out}')
        stage = getattr(self.backbone, names[-1])
        if len(stage) == 0:
            raise ValueError(f'BBNClassifier: the last stage {names[-1]} of '
                             f'{type(self.backbone).__name__} has no block')
        return stage

    def init_weights(self):
        # Both branch blocks get the backbone's own initialisation (its
        # init_cfg, zero_init_residual, a Pretrained checkpoint's last
        # block for cb_block): they sit at the end of the last stage while
        # the backbone initialises, and are taken out again afterwards.
        stage = getattr(self.backbone, self.backbone.res_layers[-1])
        stage.append(self.cb_block)
        stage.append(self.rb_block)
        try:
            super().init_weights()
        finally:
            del stage[-1]
            del stage[-1]

    def alpha(self) -> float:
        """The adaptor's ``alpha`` at the current epoch."""
        epoch = self.require_epoch()
        decay = self.max_epochs if self.decay_epochs is None \
            else self.decay_epochs
        return bbn_alpha(epoch, decay)

    def branch_feat(self, inputs: Tensor, block: nn.Module) -> Tensor:
        """Pooled features of one branch, ``(N, C)``."""
        x = self.backbone(inputs)
        x = (block(x[-1]), )
        if self.with_neck:
            x = self.neck(x)
        return x[-1]

    def extract_feat(self, inputs: Tensor, stage: str = 'neck'):
        """Inference features: both branches on the same images with equal
        weights (``alpha = 0.5``), ``2 * 0.5 * [f_c ; f_r] = [f_c ; f_r]``.
        ``stage='backbone'`` gives the shared trunk's output."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'BBNClassifier: invalid stage {stage!r}; use '
                             "'backbone', 'neck' or 'pre_logits'")
        trunk = self.backbone(inputs)
        if stage == 'backbone':
            return trunk
        x = trunk[-1]
        feats = []
        for block in (self.cb_block, self.rb_block):
            f = (block(x), )
            feats.append(self.neck(f)[-1] if self.with_neck else f[-1])
        feats = (torch.cat(feats, dim=1), )
        if stage == 'neck':
            return feats
        return self.head.pre_logits(feats)

    def mixed_feat(self, inputs_c: Tensor, inputs_r: Tensor,
                   alpha: float) -> Tuple[Tensor]:
        """``2 * [alpha f_c ; (1 - alpha) f_r]`` of the two halves."""
        f_c = self.branch_feat(inputs_c, self.cb_block)
        f_r = self.branch_feat(inputs_r, self.rb_block)
        return (2 * torch.cat((alpha * f_c, (1 - alpha) * f_r), dim=1), )

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        if inputs.shape[0] % 2:
            raise ValueError(
                f'BBNClassifier: a training batch of {inputs.shape[0]} '
                'images is not a whole number of (uniform, reversed) pairs; '
                "use sampler=dict(type='BilateralSampler') with an even "
                'batch_size')
        alpha = self.alpha()
        feats = self.mixed_feat(inputs[0::2], inputs[1::2], alpha)
        loss_c = self.head.loss(feats, data_samples[0::2])
        loss_r = self.head.loss(feats, data_samples[1::2])
        losses = {
            k: alpha * loss_c[k] + (1 - alpha) * loss_r[k]
            for k in loss_c
        }
        # Logged next to the losses: mmengine sums only keys naming a loss.
        losses['bbn_alpha'] = torch.tensor(alpha, device=inputs.device)
        return losses

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        decay = max_epochs if self.decay_epochs is None else \
            self.decay_epochs
        if max_epochs - 1 > decay:
            raise ValueError(
                f'BBNClassifier: decay_epochs={decay} is shorter than the '
                f'{max_epochs} training epochs; alpha would turn negative')
        super().set_epoch(epoch, max_epochs)
