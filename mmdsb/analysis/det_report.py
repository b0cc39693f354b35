"""Semantic scale beside LVIS's frequency groups (paper App. L.3: a rare
class is not always a hard one).

The per-class table of :mod:`mmdsb.analysis.report` gets the class's LVIS
group (``r``, ``c``, ``f``). Against the median ``S`` of the classes with a
scale, the summary names the rare classes whose scale lies above it (rare
but not hard) and the frequent ones whose scale lies below it (frequent
but hard).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .report import TABLE_COLUMNS

DET_TABLE_COLUMNS = ('class', 'group') + TABLE_COLUMNS[1:]


def add_groups(rows: Sequence[dict],
               groups: Optional[Sequence[Optional[str]]]) -> None:
    """Set ``row['group']`` of every class (``None`` without groups)."""
    for i, row in enumerate(rows):
        row['group'] = groups[i] if groups else None


def group_summary(rows: Sequence[dict]) -> Dict[str, object]:
    """Median ``S``, mean ``S`` per group, rare classes above the median
    and frequent classes below it."""
    scaled = [r for r in rows if r['S'] is not None]
    if not scaled:
        return dict(median_S=None, mean_S_by_group={},
                    rare_above_median=[], frequent_below_median=[])
    median = float(np.median([r['S'] for r in scaled]))
    means = {}
    for group in ('r', 'c', 'f'):
        values = [r['S'] for r in scaled if r.get('group') == group]
        means[group] = float(np.mean(values)) if values else None
    return dict(
        median_S=median,
        mean_S_by_group=means,
        rare_above_median=[r['class'] for r in scaled
                           if r.get('group') == 'r' and r['S'] > median],
        frequent_below_median=[r['class'] for r in scaled
                               if r.get('group') == 'f' and r['S'] < median])


def summary_lines(summary: Dict[str, object]) -> List[str]:
    """The summary as printed lines."""
    if summary['median_S'] is None:
        return ['no class has a semantic scale']
    means = ', '.join(f'{g} {v:.4f}' if v is not None else f'{g} -'
                      for g, v in summary['mean_S_by_group'].items())
    return [
        f'mean S by LVIS group: {means}',
        f'rare classes with S above the median '
        f'{summary["median_S"]:.4f} (rare, not hard): '
        f'{", ".join(summary["rare_above_median"]) or "-"}',
        'frequent classes with S below the median (frequent, hard): '
        f'{", ".join(summary["frequent_below_median"]) or "-"}',
    ]
