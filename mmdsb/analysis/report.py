"""Per-class semantic-scale table and its correlation with accuracy.

For every class of a split (sample vectors or features) the table holds

- ``N``: number of samples; ``E_n``: effective number of samples
  ``(1 - beta**N) / (1 - beta)`` of the class-balanced loss (paper Sec. 2),
- ``volume``: the volume in bits (paper Sec. 3.2, Eq. 3), ``S'``: the
  max-normalised volume, ``W``: the inter-class weight
  ``log2(alpha + W')`` and ``S = S' * W`` (Sec. 3.4.1), computed with
  :mod:`mmdsb.semantic_scale`.

Classes with fewer than two samples have volume 0 and no ``S'``; they are
reported, and left out of the normalisation and of the correlations.
"""
import math
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from mmdsb.semantic_scale import (centre_distance_sums, class_volumes,
                                  scales_from_volumes)

# beta of the effective number. The DSB paper does not state the value
# used for its Table 1; 0.999 is the class-balanced loss's usual choice for
# CIFAR-LT, and with it E_n stays close to N for small classes and
# saturates towards 1000 for large ones.
DEFAULT_BETA = 0.999
TABLE1_ALPHAS = (1.0, 1.5, 2.0, 2.5, 3.0)


def effective_number(counts: Tensor, beta: float = DEFAULT_BETA) -> Tensor:
    """``E_n = (1 - beta**n) / (1 - beta)``; ``E_n = n`` in the limit
    ``beta -> 1`` is not allowed (``0 <= beta < 1``)."""
    if not 0 <= beta < 1:
        raise ValueError(f'beta must lie in [0, 1), got {beta}')
    n = counts.double()
    return (1 - beta**n) / (1 - beta)


class ClassStats:
    """Counts, volumes and class-centre distances of one split: everything
    the semantic scales of any ``alpha`` are made of."""

    def __init__(self, vectors: Tensor, labels: Tensor, num_classes: int,
                 eps: float = 1.0, device: str = 'cpu'):
        x = vectors.to(device)
        y = labels.to(device)
        self.num_classes = num_classes
        self.counts = torch.bincount(y, minlength=num_classes).cpu()
        self.volumes = class_volumes(x, y, num_classes, eps).cpu()
        sums = torch.zeros(num_classes, x.shape[1], dtype=torch.float64,
                           device=device)
        sums.index_add_(0, y, x.double())
        self.present = self.counts > 0
        centres = sums.cpu() / self.counts.clamp_min(1)[:, None]
        self.distance_sums = centre_distance_sums(centres, self.present)
        self.valid = torch.isfinite(self.volumes) & (self.volumes > 0)

    def s_prime(self) -> Tensor:
        return scales_from_volumes(self.volumes, interclass=False)

    def w_prime(self) -> Tensor:
        w = torch.where(self.present, self.distance_sums,
                        torch.zeros_like(self.distance_sums))
        return w / w.max() if w.max() > 0 else torch.zeros_like(w)

    def w(self, alpha: float) -> Tensor:
        return torch.log2(alpha + self.w_prime())

    def s(self, alpha: float) -> Tensor:
        return scales_from_volumes(self.volumes, self.distance_sums,
                                   self.present, alpha, True)


def class_table(stats: ClassStats, names: Sequence[str], alpha: float = 2.0,
                beta: float = DEFAULT_BETA) -> List[dict]:
    """One row per class: ``class, N, E_n, volume, S', W, S``; ``None``
    where a value is undefined (no samples, or fewer than two for S', S)."""
    en = effective_number(stats.counts, beta)
    sp, w, s = stats.s_prime(), stats.w(alpha), stats.s(alpha)
    rows = []
    for i, name in enumerate(names):
        ok, here = bool(stats.valid[i]), bool(stats.present[i])
        rows.append({
            'class': name,
            'N': int(stats.counts[i]),
            'E_n': float(en[i]),
            'volume': float(stats.volumes[i]),
            "S'": float(sp[i]) if ok else None,
            'W': float(w[i]) if here else None,
            'S': float(s[i]) if ok else None,
        })
    return rows


def class_warnings(stats: ClassStats, names: Sequence[str],
                   split: str) -> List[str]:
    """A message for every class whose volume is 0."""
    out = []
    for i, name in enumerate(names):
        n = int(stats.counts[i])
        if n == 0:
            out.append(f'class {name!r} has no samples in the {split} split;'
                       ' it has no volume and is left out')
        elif n == 1:
            out.append(f'class {name!r} has 1 sample in the {split} split: a '
                       'volume needs at least 2, so it is 0 and the class is'
                       ' left out of S\', S and the correlations')
        elif not bool(stats.valid[i]):
            out.append(f'class {name!r} has {n} identical samples: volume 0,'
                       ' left out of S\', S and the correlations')
    return out


def weakest(rows: Sequence[dict], key: str, k: int = 5) -> List[str]:
    """Names of the ``k`` classes with the smallest defined ``key``."""
    ranked = sorted((r for r in rows if r[key] is not None),
                    key=lambda r: (r[key], r['class']))
    return [r['class'] for r in ranked[:k]]


def pearson(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    """Pearson correlation; ``None`` when it is undefined (fewer than two
    pairs or a constant series, e.g. N of a sample-balanced split)."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.size < 2:
        return None
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    if den <= 1e-12 * max(1.0, float(np.abs(a).max() * np.abs(b).max())):
        return None
    return float((a * b).sum() / den)


def per_class_accuracy(preds: Tensor, labels: Tensor,
                       num_classes: int) -> List[Optional[float]]:
    """Top-1 accuracy (percent) of every class, ``None`` without samples."""
    total = torch.bincount(labels, minlength=num_classes)
    correct = torch.bincount(labels[preds == labels], minlength=num_classes)
    return [100.0 * int(c) / int(t) if t > 0 else None
            for c, t in zip(correct, total)]


def overall_accuracy(preds: Tensor, labels: Tensor,
                     num_classes: int) -> Dict[str, Optional[float]]:
    """Top-1 accuracy (percent) of a split, ``class_averaged`` (the mean of
    the per-class accuracies over classes with samples, as mmdsb's
    ``ShotAccuracy`` reports ``overall``) and ``image_averaged`` (correct
    over all samples, as mmpretrain's ``Accuracy`` reports ``top1``)."""
    per_class = [a for a in per_class_accuracy(preds, labels, num_classes)
                 if a is not None]
    return dict(
        class_averaged=sum(per_class) / len(per_class) if per_class else None,
        image_averaged=100.0 * int((preds == labels).sum()) / len(labels)
        if len(labels) else None)


def correlations(stats: ClassStats, accuracy: Sequence[Optional[float]],
                 alpha: float = 2.0, alphas: Sequence[float] = TABLE1_ALPHAS,
                 beta: float = DEFAULT_BETA) -> Dict[str, object]:
    """Pearson correlations of per-class accuracy with ``N``, ``E_n``,
    ``W`` (at ``alpha``), ``S'`` and ``S`` for each of ``alphas`` (the
    layout of the paper's Table 1), over the classes that have a volume and
    evaluation samples."""
    keep = [i for i in range(stats.num_classes)
            if bool(stats.valid[i]) and accuracy[i] is not None]
    acc = [accuracy[i] for i in keep]
    series = {
        'N': stats.counts.double(),
        'E_n': effective_number(stats.counts, beta),
        'W': stats.w(alpha),
        "S'": stats.s_prime(),
    }
    for a in alphas:
        series[f'S(alpha={a:g})'] = stats.s(a)
    return {
        'classes_used': len(keep),
        'pearson': {k: pearson([float(v[i]) for i in keep], acc)
                    for k, v in series.items()},
    }


def split_report(stats: ClassStats, names: Sequence[str], split: str,
                 alpha: float = 2.0, beta: float = DEFAULT_BETA,
                 k: int = 5) -> Dict[str, object]:
    """The per-class table, the ``k`` weakest classes by ``S`` and by ``N``
    and a message for every class without volume."""
    rows = class_table(stats, names, alpha, beta)
    return dict(
        classes=rows,
        weakest_by_S=weakest(rows, 'S', k),
        weakest_by_N=weakest(rows, 'N', k),
        warnings=class_warnings(stats, names, split))


TABLE_COLUMNS = ('class', 'N', 'E_n', 'volume', "S'", 'W', 'S')
