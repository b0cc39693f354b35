"""Gaussian clouded logit loss (thesis Ch. 5, eqs. 5.9-5.12)."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_number
from .class_counts import CountBasedLoss, CountsLike, soft_cross_entropy

__all__ = ['GCLLoss', 'cloud_sizes']


def cloud_sizes(counts: Tensor) -> Tensor:
    """``delta_j = (log n_max - log n_j) / max_k(...)`` in ``[0, 1]``
    (eq. 5.9, normalised as in the thesis' experiments); all zeros when
    every class has the same count."""
    d = counts.double().max().log() - counts.double().log()
    return d / d.max() if d.max() > 0 else d


@MODELS.register_module()
class GCLLoss(CountBasedLoss):
    """``L = -log softmax(s * (cos - noise_mul * delta * |eps| - m e_y))_y``.

    ``eps`` is drawn independently for every (sample, class) logit entry
    as ``torch.randn_like(cos) * noise_std`` (one draw of the global torch
    generator), clamped to ``[-1, 1]``; its absolute value makes the cloud
    only ever lower a logit, more for rarer classes (eq. 5.11). The thesis
    gives ``sigma = 1/3`` as a standard deviation ("3 sigma" argument) and
    no scale; ``s = 30`` is the authors' stage-1 value, and ``noise_mul = 1``
    is eq. 5.11 as printed (the authors' code uses 0.5). The loss is only
    evaluated in training, so prediction uses the plain cosines. The
    scores must be cosine logits (:class:`CosineClsHead`).

    Args:
        scale: ``s`` (30).
        noise_std: standard deviation of ``eps`` (1/3).
        noise_mul: multiplier of the cloud (1).
        margin: optional extra target margin ``m`` (0; the authors' code
            uses 0.1 in the classifier re-training stage).
        class_counts, reduction, loss_weight: see :class:`CountBasedLoss`.
    """

    def __init__(self,
                 scale: float = 30.0,
                 noise_std: float = 1.0 / 3.0,
                 noise_mul: float = 1.0,
                 margin: float = 0.0,
                 class_counts: Optional[CountsLike] = None,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0):
        if not (noise_mul >= 0 and margin >= 0):
            raise ValueError('GCLLoss: noise_mul and margin must be >= 0, '
                             f'got {noise_mul} and {margin}')
        self.scale = positive_number(scale, 'scale', 'GCLLoss')
        self.noise_std = positive_number(noise_std, 'noise_std', 'GCLLoss')
        self.noise_mul, self.margin = noise_mul, margin
        super().__init__(class_counts, reduction, loss_weight)

    def per_sample(self, x: Tensor, target: Tensor) -> Tensor:
        delta = cloud_sizes(self.require_class_counts(x.shape[1])).to(x)
        eps = (torch.randn_like(x) * self.noise_std).clamp(-1, 1).abs()
        clouded = x - self.noise_mul * delta * eps - self.margin * target
        return soft_cross_entropy(self.scale * clouded, target)
