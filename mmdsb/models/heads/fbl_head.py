"""Feature-balanced logits (FBL, thesis Ch. 4, eqs. 4.4-4.8)."""
import math
from typing import Tuple

from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from torch import Tensor

from ...engine.class_counts_hook import ClassCountsConsumer, EpochAware
from .dsb_head import DSBHeadMixin

__all__ = ['FBLClsHead', 'DSBFBLClsHead', 'ALPHA_SCHEDULES']

# alpha(t) of thesis Table 4.4, with u = t / T.
ALPHA_SCHEDULES = {
    'parabolic': lambda u: u * u,
    'linear': lambda u: u,
    'linear_decrease': lambda u: 1.0 - u,
    'sine': lambda u: math.sin(u * math.pi / 2),
    'cosine': lambda u: 1.0 - math.cos(u * math.pi / 2),
}


@MODELS.register_module()
class FBLClsHead(ClassCountsConsumer, EpochAware, LinearClsHead):
    """A linear head whose training logits are feature-balanced:

        z^b_j = z_j - alpha(t) * lambda_j / ||f||,
        lambda_j = log n_max - log n_j,   alpha(t) = (t / T)^2

    for *every* class ``j`` (eq. 4.6), ``f`` the classifier input and
    ``||f||`` its per-sample L2 norm, through which the gradient flows (it
    is what pushes the norms of tail features up). With cross-entropy as
    the loss this is the FBL loss of eq. 4.8; any loss of a linear head
    can be used. FBL uses plain inner-product logits, and prediction (eval
    mode) uses the raw ``z``.

    ``t = epoch + 1`` is the 1-based current epoch and ``T`` the number of
    epochs, both from ``ClassCountsHook`` (so ``alpha = 1`` in the last
    epoch); ``lambda`` uses the natural log. Needs the class counts from
    the same hook.

    Args:
        num_classes, in_channels, loss, ...: as :class:`LinearClsHead`.
        alpha_schedule: one of ``ALPHA_SCHEDULES`` (``'parabolic'``).
        alpha_scale: constant multiplying ``alpha(t)`` (1, per Table 4.4).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 alpha_schedule: str = 'parabolic',
                 alpha_scale: float = 1.0,
                 **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        if alpha_schedule not in ALPHA_SCHEDULES:
            raise ValueError(f'FBLClsHead: alpha_schedule must be one of '
                             f'{sorted(ALPHA_SCHEDULES)}, got '
                             f'{alpha_schedule!r}')
        if not alpha_scale >= 0:
            raise ValueError(f'FBLClsHead: alpha_scale must be >= 0, got '
                             f'{alpha_scale}')
        self.alpha_schedule, self.alpha_scale = alpha_schedule, alpha_scale

    def alpha(self) -> float:
        t = self.require_epoch() + 1
        u = min(t / self.max_epochs, 1.0)
        return self.alpha_scale * ALPHA_SCHEDULES[self.alpha_schedule](u)

    def stimulus(self) -> Tensor:
        """``lambda_j = log n_max - log n_j`` (float64)."""
        counts = self.require_class_counts()
        return counts.max().log() - counts.log()

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        pre = self.pre_logits(feats)
        z = self.fc(pre)
        if not self.training:
            return z
        lam = self.stimulus().to(z)
        norm = pre.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return z - self.alpha() * lam / norm


@MODELS.register_module()
class DSBFBLClsHead(DSBHeadMixin, FBLClsHead):
    """:class:`FBLClsHead` with Dynamic Semantic-Scale-Balanced loss weights
    (see :class:`DSBHeadMixin`); the bank holds the classifier input ``f``.
    Same arguments and state-dict keys."""
