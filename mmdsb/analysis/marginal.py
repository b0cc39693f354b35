"""Marginal effect of the semantic scale (paper Sec. 3.3, Fig. 2 left):
the volume of the first ``m`` samples of a class for growing ``m``."""
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from mmdsb.semantic_scale import class_volumes

# Values (rows x dims) stacked into one class_volumes call.
_MAX_ROWS_ELEMENTS = 1 << 23


def prefix_volumes(x: Tensor, sizes: Sequence[int],
                   eps: float = 1.0) -> Tensor:
    """Volumes of ``x[:m]`` for every ``m`` in ``sizes`` (float64).

    Prefixes are stacked as the classes of
    :func:`~mmdsb.semantic_scale.class_volumes` calls, which batch their
    determinants; each call holds at most about ``_MAX_ROWS_ELEMENTS``
    values, so long curves (e.g. a step of one sample) stay in memory.
    """
    sizes = [int(m) for m in sizes]
    if any(m < 0 or m > x.shape[0] for m in sizes):
        raise ValueError(f'prefix sizes must lie in [0, {x.shape[0]}], got '
                         f'{sizes}')
    unique = sorted(set(sizes))
    found = {}
    budget = max(1, _MAX_ROWS_ELEMENTS // max(1, x.shape[1]))
    start = 0
    while start < len(unique):
        chunk, rows = [], 0
        for m in unique[start:]:
            if chunk and rows + m > budget:
                break
            chunk.append(m)
            rows += m
        start += len(chunk)
        index = torch.cat(
            [torch.arange(m, device=x.device) for m in chunk])
        labels = torch.cat([
            torch.full((m, ), j, dtype=torch.long, device=x.device)
            for j, m in enumerate(chunk)
        ])
        vols = class_volumes(x[index], labels, len(chunk), eps).cpu()
        found.update(zip(chunk, vols.tolist()))
    return torch.tensor([found[m] for m in sizes], dtype=torch.float64)


def size_grid(max_count: int, points: int = 20,
              step: Optional[int] = None) -> List[int]:
    """Sample counts at which to measure: every ``step`` samples, or about
    ``points`` counts spread evenly over ``2 .. max_count``."""
    if max_count < 2:
        return []
    if step is not None:
        if step < 1:
            raise ValueError(f'step must be positive, got {step}')
        grid = list(range(step, max_count + 1, step))
    else:
        grid = torch.linspace(2, max_count, max(2, points)).round().long()
        grid = grid.tolist()
    grid = sorted(set(m for m in grid if m >= 2) | {max_count})
    return grid


def marginal_curves(vectors: Tensor,
                    labels: Tensor,
                    classes: Sequence[int],
                    sizes: Sequence[int],
                    eps: float = 1.0,
                    order_seed: Optional[int] = 0,
                    progress=None) -> Dict[str, object]:
    """Volume of the first ``m`` samples of each class for ``m`` in ``sizes``.

    Samples of a class are taken in a random order drawn with
    ``order_seed`` (the paper's random sub-datasets), or in dataset order
    when it is ``None``. A class with fewer than ``m`` samples contributes
    all of its samples, as it would to a sub-dataset of ``m`` per class, and
    its own curve ends at its size.

    Returns ``dict(sizes, curves={class: [volume or None]}, total=[sum],
    full={class: volume of all its samples})``.
    """
    gen = None
    if order_seed is not None:
        gen = torch.Generator().manual_seed(order_seed)
    curves, full = {}, {}
    total = torch.zeros(len(sizes), dtype=torch.float64)
    for c in classes:
        idx = torch.nonzero(labels == c).flatten()
        if gen is not None:
            idx = idx[torch.randperm(len(idx), generator=gen)]
        xc = vectors[idx.to(vectors.device)]
        clipped = [min(m, len(idx)) for m in sizes]
        vols = prefix_volumes(xc, clipped + [len(idx)], eps)
        full[c] = float(vols[-1])
        vols = vols[:-1]
        total += vols
        curves[c] = [float(v) if m <= len(idx) else None
                     for v, m in zip(vols, sizes)]
        if progress is not None:
            progress.update()
    return dict(sizes=list(sizes), curves=curves, total=total.tolist(),
                full=full)
