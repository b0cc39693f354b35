"""Data-collection stopping rule (paper App. I.2).

Samples of a class arrive ``m`` at a time. After the ``n``-th batch the
class has ``n * m`` samples of volume ``S_n``; collection can stop once the
relative increment ``(S_n - S_{n-1}) / S_n`` falls below ``alpha`` percent.
"""
from typing import Dict, List, Optional

from torch import Tensor

from .marginal import prefix_volumes


def collection_curve(x: Tensor, step: int, alpha: float = 1.0,
                     eps: float = 1.0) -> Dict[str, object]:
    """Volumes after every batch of ``step`` samples of ``x`` (rows in
    collection order; a last partial batch is ignored) and the first batch
    at which the relative increment is below ``alpha`` percent.

    Returns ``dict(counts, volumes, rel_increments, stop_step,
    stop_count)``. ``rel_increments[n - 1]`` belongs to batch ``n``; it is
    ``None`` for the first batch and wherever ``S_n = 0``. ``stop_step`` is
    1-based and ``None`` when the rule never fires (collect more).
    """
    if step < 1:
        raise ValueError(f'step must be a positive number of samples, got '
                         f'{step}')
    if not alpha > 0:
        raise ValueError(f'alpha must be a positive percentage, got {alpha}')
    counts = list(range(step, x.shape[0] + 1, step))
    volumes = prefix_volumes(x, counts, eps).tolist()
    rel: List[Optional[float]] = [None]
    for prev, cur in zip(volumes, volumes[1:]):
        rel.append((cur - prev) / cur if cur > 0 else None)
    stop = next((n for n, r in enumerate(rel, 1)
                 if r is not None and r < alpha / 100), None)
    return dict(
        counts=counts,
        volumes=volumes,
        rel_increments=rel[:len(counts)],
        stop_step=stop,
        stop_count=counts[stop - 1] if stop else None)
