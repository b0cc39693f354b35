"""Pooling of pre-logit features to the bank's dimension (paper App. F.2:
features are reduced by 1-D average pooling before they enter the pool)."""
import torch.nn.functional as F
from torch import Tensor

__all__ = ['pool_channels']


def pool_channels(feats: Tensor, dim: int) -> Tensor:
    """Flatten ``(n, ...)`` features and average-pool them to ``dim``
    channels (float32, detached); narrower features pass unchanged."""
    feats = feats.detach().flatten(1).float()
    n, width = feats.shape
    if width > dim and width % dim == 0:
        # Equal bins (2048 -> 64): the same average pooling as one mean
        # over groups of channels, about twice as fast as the adaptive
        # kernel.
        return feats.reshape(n, dim, width // dim).mean(-1)
    if width > dim:
        feats = F.adaptive_avg_pool1d(feats[:, None], dim)[:, 0]
    return feats
