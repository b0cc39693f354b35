"""Semantic scale of classes: feature volumes, inter-class interference and
DSB loss weights.

Pure PyTorch, no OpenMMLab import, so that it can be used, tested and
benchmarked on its own. Samples are rows: ``feats`` has shape ``(m, d)``.
All computation is done in float64 on the device of the input.

The functions from volumes to weights (:func:`usable`,
:func:`normalised_volumes`, :func:`scales_from_volumes`, :func:`dsb_weights`)
use masks instead of indexing and never read a tensor on the host, so that
on a GPU the training step that calls them is not stopped to wait for them.

For one class with centred embeddings ``X`` (``m x d``)::

    Vol = 1/2 * log2 det(I_d + d / (m * eps^2) * X^T X)

which is eq. 3 and Algorithm 1 of the DSB paper with ``eps = 1``. The
determinant is never formed: ``slogdet`` of the positive definite matrix
gives its logarithm directly (``det`` overflows to inf for real feature
sizes), and when ``m < d`` the ``m x m`` Gram form
``det(I_m + c X X^T) = det(I_d + c X^T X)`` is used.
"""
import math
from typing import Optional

import torch
from torch import Tensor

__all__ = [
    'feature_volume', 'class_volumes', 'semantic_scales', 'dsb_weights',
    'centre_distance_sums', 'normalised_volumes', 'scales_from_volumes',
    'usable', 'weights_capped', 'check_labels', 'USABLE_RTOL'
]

_LN2 = math.log(2.0)
# Largest number of matrix elements built at once in `class_volumes`.
_MAX_BATCH_ELEMENTS = 1 << 24
# A volume (or scale) counts as usable above this fraction of the largest
# one. Features collapsed to one point give a volume of rounding size (about
# 1e-15 to 1e-9 bits, of either sign), real classes bits to hundreds of
# bits; the sign of rounding noise must not decide whether a class gets a
# weight C times the others'.
USABLE_RTOL = 1e-6


def _check_eps(eps: float) -> None:
    if not eps > 0 or not math.isfinite(eps):
        raise ValueError(f'eps must be a positive finite number, got {eps}')


def _check_feats(feats: Tensor, name: str = 'feats') -> None:
    if not isinstance(feats, Tensor) or feats.dim() != 2:
        shape = tuple(feats.shape) if isinstance(feats, Tensor) else None
        raise ValueError(f'{name} must be a 2-D tensor (samples x dims), '
                         f'got shape {shape}')
    if not torch.isfinite(feats).all():
        raise ValueError(f'{name} contains NaN or inf values')


def check_labels(labels: Tensor, num_classes: int, n: Optional[int] = None):
    """Raise a clear error for labels that are not class indices."""
    if labels.dim() != 1 or (n is not None and labels.numel() != n):
        raise ValueError(f'labels must be a 1-D tensor with one entry per '
                         f'sample ({n}), got shape {tuple(labels.shape)}')
    if labels.is_floating_point():
        raise ValueError('labels must be an integer tensor of class indices')
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f'labels must lie in [0, {num_classes}), got values in '
            f'[{int(labels.min())}, {int(labels.max())}]')


def _logdet_volumes(mats: Tensor) -> Tensor:
    """``1/2 log2 det`` of a batch of symmetric positive definite matrices."""
    sign, logabsdet = torch.linalg.slogdet(mats)
    if (sign <= 0).any():
        # I + PSD is positive definite; a non-positive sign means rounding
        # broke the PSD part. Eigenvalues clamped at 1 are the safe answer.
        eig = torch.linalg.eigvalsh(mats).clamp_min(1.0)
        logabsdet = torch.where(sign > 0, logabsdet, eig.log().sum(-1))
    return 0.5 * logabsdet / _LN2


def feature_volume(feats: Tensor, eps: float = 1.0) -> Tensor:
    """Volume (in bits) of the manifold spanned by one class's samples.

    Args:
        feats: ``(m, d)`` samples of one class, one per row.
        eps: radius of the packing spheres (``eps = 1`` is eq. 3).

    Returns:
        A float64 scalar tensor; 0 for ``m <= 1``.
    """
    _check_eps(eps)
    _check_feats(feats)
    m, d = feats.shape
    if m <= 1:
        return feats.new_zeros((), dtype=torch.float64)
    x = feats.double()
    x = x - x.mean(dim=0, keepdim=True)
    scale = d / (m * eps * eps)
    gram = x @ x.T if m < d else x.T @ x
    eye = torch.eye(gram.shape[0], dtype=torch.float64, device=x.device)
    return _logdet_volumes(eye + scale * gram)


def class_volumes(feats: Tensor,
                  labels: Tensor,
                  num_classes: int,
                  eps: float = 1.0) -> Tensor:
    """Volume of every class; 0 for classes with fewer than 2 samples.

    Args:
        feats: ``(N, d)`` samples.
        labels: ``(N,)`` class index of every sample.
        num_classes: number of classes ``C``.
        eps: radius of the packing spheres.

    Returns:
        ``(C,)`` float64 volumes in bits.
    """
    _check_eps(eps)
    _check_feats(feats)
    check_labels(labels, num_classes, feats.shape[0])
    d = feats.shape[1]
    device = feats.device
    out = torch.zeros(num_classes, dtype=torch.float64, device=device)
    order = torch.argsort(labels, stable=True)
    x = feats.double()[order]
    counts = torch.bincount(labels, minlength=num_classes)
    means = torch.zeros(num_classes, d, dtype=torch.float64, device=device)
    means.index_add_(0, labels.to(device), feats.double())
    means /= counts.clamp_min(1)[:, None]
    x -= means[labels[order]]
    counts_list = counts.tolist()
    groups = torch.split(x, counts_list)

    # Each class gives an (I + c * X^T X) or (I + c * X X^T) matrix of side
    # min(m, d); classes are batched by padding with the identity, which
    # leaves the determinant unchanged.
    pending, side = [], 0

    def flush():
        mats = torch.zeros(len(pending), side, side, dtype=torch.float64,
                           device=device)
        mats += torch.eye(side, dtype=torch.float64, device=device)
        for i, (_, gram, scale) in enumerate(pending):
            k = gram.shape[0]
            mats[i, :k, :k] += scale * gram
        out[[c for c, _, _ in pending]] = _logdet_volumes(mats)

    for c, (m, xc) in enumerate(zip(counts_list, groups)):
        if m <= 1:
            continue
        gram = xc @ xc.T if m < d else xc.T @ xc
        new_side = max(side, gram.shape[0])
        if pending and (len(pending) + 1) * new_side**2 > _MAX_BATCH_ELEMENTS:
            flush()
            pending, new_side = [], gram.shape[0]
        pending.append((c, gram, d / (m * eps * eps)))
        side = new_side
    if pending:
        flush()
    return out


def _check_rtol(rtol: float) -> None:
    if not 0 <= rtol < 1:
        raise ValueError(f'rtol must lie in [0, 1), got {rtol}')


def _masked_max(values: Tensor, mask: Tensor) -> Tensor:
    """Largest entry of ``values`` where ``mask`` holds (``-inf`` if none)."""
    return torch.where(mask, values, -math.inf).max()


def usable(values: Tensor, rtol: float = USABLE_RTOL) -> Tensor:
    """Entries that are finite and above ``rtol`` times the largest finite
    entry: the classes with a usable volume or semantic scale."""
    _check_rtol(rtol)
    values = values.double()
    finite = torch.isfinite(values)
    top = _masked_max(values, finite)
    return finite & (values > 0) & (values > rtol * top)


def centre_distance_sums(centres: Tensor, present: Tensor) -> Tensor:
    """For every class, the sum of Euclidean distances from its centre to the
    centres of all present classes (0 for absent classes)."""
    c = centres.double()
    dist = torch.cdist(c[present], c[present])
    out = torch.zeros(c.shape[0], dtype=torch.float64, device=c.device)
    out[present] = dist.sum(dim=1)
    return out


def normalised_volumes(volumes: Tensor,
                       rtol: float = USABLE_RTOL) -> Tensor:
    """``S'``: the volumes divided by the largest one (paper Sec. 3.4.1);
    0 for classes without a usable volume (see :func:`usable`)."""
    volumes = volumes.double()
    valid = usable(volumes, rtol)
    top = _masked_max(volumes, valid)
    return torch.where(valid, volumes / top, 0.)


def scales_from_volumes(volumes: Tensor,
                        distance_sums: Optional[Tensor] = None,
                        present: Optional[Tensor] = None,
                        alpha: float = 2.0,
                        interclass: bool = True,
                        rtol: float = USABLE_RTOL) -> Tensor:
    """Semantic scales ``S = S' * W`` (paper Sec. 3.4.1) from class volumes.

    ``S'`` is the max-normalised volume (:func:`normalised_volumes`).
    ``W = log2(alpha + W')`` where ``W'`` is the max-normalised mean distance
    of a class centre to the other present class centres (the ``1 / (C - 1)``
    factor cancels in the normalisation). Classes without a usable volume
    get ``S = 0``.
    """
    if alpha < 1 or not math.isfinite(alpha):
        raise ValueError(f'alpha must be >= 1, got {alpha}')
    scales = normalised_volumes(volumes, rtol)
    if not interclass:
        return scales
    if distance_sums is None or present is None:
        raise ValueError('interclass=True needs distance_sums and present')
    w = torch.where(present, distance_sums.double(), 0.)
    w_max = w.max()
    w_norm = torch.where(w_max > 0, w / w_max, 0.)
    return scales * torch.log2(alpha + w_norm)


def semantic_scales(feats: Tensor,
                    labels: Tensor,
                    num_classes: int,
                    alpha: float = 2.0,
                    interclass: bool = True,
                    eps: float = 1.0) -> Tensor:
    """Semantic scale ``S`` of every class (paper Sec. 3.2, Eq. 3, and
    Sec. 3.4.1).

    Args:
        feats: ``(N, d)`` samples.
        labels: ``(N,)`` class indices.
        num_classes: number of classes ``C``.
        alpha: smoothing of the inter-class weight, ``alpha >= 1`` (2 for
            long-tailed data, 1 for sample-balanced data).
        interclass: multiply by the inter-class weight ``W``; ``False``
            gives ``S = S'``.
        eps: radius of the packing spheres.

    Returns:
        ``(C,)`` float64 scales; 0 for classes without a positive volume.
    """
    if alpha < 1:
        raise ValueError(f'alpha must be >= 1, got {alpha}')
    volumes = class_volumes(feats, labels, num_classes, eps)
    if not interclass:
        return scales_from_volumes(volumes, alpha=alpha, interclass=False)
    counts = torch.bincount(labels, minlength=num_classes).to(feats.device)
    sums = torch.zeros(
        num_classes, feats.shape[1], dtype=torch.float64, device=feats.device)
    sums.index_add_(0, labels.to(feats.device), feats.double())
    present = counts > 0
    centres = sums / counts.clamp_min(1)[:, None]
    return scales_from_volumes(volumes, centre_distance_sums(centres, present),
                               present, alpha, True)


def _check_max_ratio(max_ratio: Optional[float]) -> None:
    if max_ratio is not None and not max_ratio >= 1:
        raise ValueError(f'max_ratio must be >= 1, got {max_ratio}')


def dsb_weights(scales: Tensor,
                normalize: str = 'mean',
                max_ratio: Optional[float] = None,
                rtol: float = USABLE_RTOL) -> Tensor:
    """Per-class DSB loss weights ``a_i ∝ 1 / S_i`` (paper Sec. 4.1 and
    App. F.1, Eq. 4).

    A class without a usable scale (finite and above ``rtol`` times the
    largest, see :func:`usable`) gets the largest weight among the classes
    that have one; if no class has one, all weights are equal.

    Args:
        scales: ``(C,)`` semantic scales.
        normalize: ``'mean'`` makes the weights average 1 (``sum = C``);
            ``'sum'`` makes them sum to 1 (the paper's form).
        max_ratio: optional cap on the ratio of the largest to the smallest
            weight (see :func:`weights_capped`).

    Returns:
        ``(C,)`` float64 weights, always finite and positive.
    """
    if normalize not in ('mean', 'sum'):
        raise ValueError(
            f"normalize must be 'mean' or 'sum', got {normalize!r}")
    _check_max_ratio(max_ratio)
    scales = scales.double()
    valid = usable(scales, rtol)
    inv = torch.where(valid, 1.0 / torch.where(valid, scales, 1.0), 0.0)
    weights = torch.where(valid, inv, inv.max())
    weights = torch.where(valid.any(), weights, 1.0)
    if max_ratio is not None:
        weights = torch.minimum(weights, weights.min() * max_ratio)
    if normalize == 'mean':
        return weights * (weights.numel() / weights.sum())
    return weights / weights.sum()


def weights_capped(scales: Tensor,
                   max_ratio: Optional[float],
                   rtol: float = USABLE_RTOL) -> Tensor:
    """Whether ``max_ratio`` clips the :func:`dsb_weights` of ``scales``
    (a bool scalar tensor): the largest usable scale exceeds ``max_ratio``
    times the smallest."""
    _check_max_ratio(max_ratio)
    if max_ratio is None:
        return torch.zeros((), dtype=torch.bool, device=scales.device)
    scales = scales.double()
    valid = usable(scales, rtol)
    top = _masked_max(scales, valid)
    low = torch.where(valid, scales, math.inf).min()
    return valid.any() & (top > max_ratio * low)
