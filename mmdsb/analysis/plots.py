"""PNG figures of the analyses, drawn with matplotlib's Agg canvas (no
display needed, no global pyplot state)."""
import math
from typing import Mapping, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 80


def _save(fig: Figure, path: str) -> str:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _norm(values: Sequence[Optional[float]]) -> np.ndarray:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    top = np.nanmax(v) if np.isfinite(v).any() else 0
    return np.nan_to_num(v / top if top > 0 else v * 0)


def counts_and_scales(names: Sequence[str], counts: Sequence[int],
                      scales: Sequence[Optional[float]], path: str,
                      title: str = '', kind: str = 'bar') -> str:
    """``N`` against ``S`` per class (paper Fig. 7), both max-normalised:
    grouped bars, or a radar with ``kind='radar'``."""
    n, s = _norm(counts), _norm(scales)
    if kind == 'radar':
        fig = Figure(figsize=(5.5, 5.5))
        ax = fig.add_subplot(projection='polar')
        angles = np.linspace(0, 2 * math.pi, len(names), endpoint=False)
        closed = np.append(angles, angles[:1])
        # The paper draws the largest count at 0.5 for readability.
        for values, label in ((n * 0.5, 'N (max = 0.5)'), (s, 'S / max S')):
            ax.plot(closed, np.append(values, values[:1]), label=label)
            ax.fill(closed, np.append(values, values[:1]), alpha=0.15)
        ax.set_xticks(angles)
        ax.set_xticklabels(names, fontsize=8)
        ax.legend(loc='lower right', bbox_to_anchor=(1.12, -0.12),
                  fontsize=8)
    elif kind == 'bar':
        fig = Figure(figsize=(max(5.0, 0.35 * len(names) + 2), 3.6))
        ax = fig.add_subplot()
        x = np.arange(len(names))
        ax.bar(x - 0.2, n, 0.4, label='N / max N')
        ax.bar(x + 0.2, s, 0.4, label='S / max S')
        if len(names) <= 60:
            ax.set_xticks(x)
            ax.set_xticklabels(names, rotation=90 if len(names) > 20 else 0,
                               fontsize=8)
        ax.set_xlabel('class')
        ax.legend(fontsize=8)
    else:
        raise ValueError(f"kind must be 'bar' or 'radar', got {kind!r}")
    ax.set_title(title, fontsize=10, pad=18 if kind == 'radar' else 6)
    return _save(fig, path)


def accuracy_scatter(accuracy: Sequence[float],
                     series: Mapping[str, Sequence[float]],
                     corr: Mapping[str, Optional[float]], path: str) -> str:
    """Per-class accuracy against each measure, one panel per measure,
    Pearson's r in the panel title."""
    fig = Figure(figsize=(3.2 * len(series), 3.2))
    for i, (name, values) in enumerate(series.items(), 1):
        ax = fig.add_subplot(1, len(series), i)
        ax.scatter(values, accuracy, s=18)
        r = corr.get(name)
        ax.set_title(f'{name}: r = ' + ('n/a' if r is None else f'{r:.3f}'),
                     fontsize=9)
        ax.set_xlabel(name)
        if i == 1:
            ax.set_ylabel('accuracy (%)')
    return _save(fig, path)


def marginal_curves(sizes: Sequence[int],
                    curves: Mapping[str, Sequence[Optional[float]]],
                    total: Sequence[float], path: str,
                    ends: Optional[Mapping[str, Sequence[float]]] = None
                    ) -> str:
    """Volume of the first m samples per class, and their sum. ``ends``
    gives each class's ``(N, volume of all N samples)``, where a curve
    that stops between two sizes ends."""
    fig = Figure(figsize=(9, 3.6))
    ax, ax_sum = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, vols in curves.items():
        pts = [(m, v) for m, v in zip(sizes, vols) if v is not None]
        if ends and name in ends and (not pts or ends[name][0] > pts[-1][0]):
            pts.append(tuple(ends[name]))
        if pts:
            ax.plot(*zip(*pts), marker='.' if len(pts) < 3 else None,
                    label=name)
    ax.set_xlabel('samples per class (m)')
    ax.set_ylabel('volume (bits)')
    if len(curves) <= 12:
        ax.legend(fontsize=7)
    ax_sum.plot(sizes, total, color='k')
    ax_sum.set_xlabel('samples per class (m)')
    ax_sum.set_ylabel('sum of volumes over classes')
    return _save(fig, path)


def subset_bars(names: Sequence[str], full: Sequence[float],
                random_mean: Sequence[float], best: Sequence[float],
                path: str) -> str:
    """Volume of each class, of an average random subset and of the kept
    subset."""
    fig = Figure(figsize=(max(5.0, 0.5 * len(names) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(names))
    ax.bar(x - 0.27, full, 0.27, label='whole class')
    ax.bar(x, random_mean, 0.27, label='random subset (mean)')
    ax.bar(x + 0.27, best, 0.27, label='kept subset')
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel('volume (bits)')
    ax.legend(fontsize=8)
    return _save(fig, path)


def stopping_curves(curves: Mapping[str, dict], alpha: float,
                    path: str) -> str:
    """Relative volume increment per collection step, with the threshold."""
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    for name, c in curves.items():
        pts = [(n, 100 * r) for n, r in zip(c['counts'], c['rel_increments'])
               if r is not None]
        if pts:
            ax.plot(*zip(*pts), marker='.', label=name)
    ax.axhline(alpha, color='k', linestyle='--', label=f'alpha = {alpha:g}%')
    ax.set_xlabel('samples collected')
    ax.set_ylabel('relative volume increment (%)')
    if len(curves) <= 12:
        ax.legend(fontsize=7)
    return _save(fig, path)


def ratio_heatmap(children: Sequence[str], parents: Sequence[str],
                  ratios: Mapping[str, Mapping[str, float]],
                  matched: Mapping[str, str], path: str) -> str:
    """Volume ratio after/before mixing (paper Table 12); matched parents
    are starred."""
    grid = np.array([[ratios[c][p] for p in parents] for c in children])
    fig = Figure(figsize=(1.2 * len(parents) + 2.5,
                          0.5 * len(children) + 1.5))
    ax = fig.add_subplot()
    im = ax.imshow(grid, cmap='YlGnBu', aspect='auto')
    lo, hi = float(grid.min()), float(grid.max())
    for i, c in enumerate(children):
        for j, p in enumerate(parents):
            dark = hi > lo and (grid[i, j] - lo) / (hi - lo) > 0.6
            best = matched[c] == p
            ax.text(j, i, f'{grid[i, j]:.3f}' + (' *' if best else ''),
                    ha='center', va='center', fontsize=8,
                    color='w' if dark else 'k',
                    fontweight='bold' if best else 'normal')
    ax.set_xticks(range(len(parents)))
    ax.set_xticklabels(parents, fontsize=8)
    ax.set_yticks(range(len(children)))
    ax.set_yticklabels(children, fontsize=8)
    ax.set_xlabel('parent')
    ax.set_ylabel('child')
    fig.colorbar(im, ax=ax, label='volume after / before')
    return _save(fig, path)
