"""Well-represented subset selection, "pizza sampling" (paper App. I.1).

Among random subsets of a class of a given size, the one that spans the
largest volume keeps the most of the class manifold, its edges included.
The paper draws ``k`` random subsets, measures them, repeats this a few
times and keeps the subset of largest volume.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmdsb.semantic_scale import class_volumes


def subset_volumes(x: Tensor, subsets: Tensor, eps: float = 1.0) -> Tensor:
    """Volume of ``x[subsets[j]]`` for every row ``j`` of ``subsets``."""
    k, size = subsets.shape
    labels = torch.arange(k, device=x.device).repeat_interleave(size)
    return class_volumes(x[subsets.flatten().to(x.device)], labels, k,
                         eps).cpu()


def pizza_subset(x: Tensor,
                 size: int,
                 k: int = 10,
                 rounds: int = 5,
                 eps: float = 1.0,
                 generator: Optional[torch.Generator] = None
                 ) -> Dict[str, object]:
    """Draw ``k`` random subsets of ``size`` rows of ``x``, ``rounds``
    times, and keep the one of largest volume.

    Returns ``dict(index, volume, full_volume, random_mean, round_best)``:
    the kept row indices (sorted), its volume, the volume of all of ``x``,
    the mean volume of all drawn subsets (what a plain random downsampling
    gives on average) and the best volume after each round.
    """
    n = x.shape[0]
    if not 1 <= size <= n:
        raise ValueError(f'subset size must lie in [1, {n}], got {size}')
    if k < 1 or rounds < 1:
        raise ValueError(f'k and rounds must be positive, got k={k}, '
                         f'rounds={rounds}')
    best_idx, best_vol, drawn, round_best = None, -1.0, [], []
    for _ in range(rounds):
        subsets = torch.stack([
            torch.randperm(n, generator=generator)[:size] for _ in range(k)
        ])
        vols = subset_volumes(x, subsets, eps)
        drawn.append(vols)
        j = int(vols.argmax())
        if float(vols[j]) > best_vol:
            best_vol, best_idx = float(vols[j]), subsets[j]
        round_best.append(best_vol)
    full = float(class_volumes(x, torch.zeros(n, dtype=torch.long,
                                              device=x.device), 1, eps)[0])
    return dict(
        index=sorted(best_idx.tolist()),
        volume=best_vol,
        full_volume=full,
        random_mean=float(torch.cat(drawn).mean()),
        round_best=round_best)
