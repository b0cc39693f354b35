"""Parent-class matching with the semantic scale (paper App. K).

The manifold of a child class lies inside that of its parent, so mixing the
child's samples into its parent's barely changes the parent's volume, while
mixing them into another parent enlarges it. Each child is matched to the
parent whose volume ratio (after mixing / before) is smallest.
"""
from typing import Dict, Mapping, Sequence

import torch
from torch import Tensor

from mmdsb.semantic_scale import class_volumes


def _volumes(groups: Sequence[Tensor], eps: float) -> Tensor:
    labels = torch.cat([
        torch.full((len(g), ), j, dtype=torch.long, device=g.device)
        for j, g in enumerate(groups)
    ])
    return class_volumes(torch.cat(groups), labels, len(groups), eps).cpu()


def parent_ratios(children: Mapping[str, Tensor],
                  parents: Mapping[str, Tensor],
                  eps: float = 1.0,
                  progress=None) -> Dict[str, object]:
    """Ratio of every parent's volume after mixing in each child's samples
    to its volume before, and the matched parent of each child.

    Args:
        children, parents: name -> ``(m, d)`` samples.

    Returns:
        ``dict(parent_volumes={parent: v}, ratios={child: {parent: r}},
        matched={child: parent})``.
    """
    names = list(parents)
    for name, x in parents.items():
        if len(x) < 2:
            raise ValueError(f'parent {name!r} has {len(x)} sample(s); a '
                             'volume needs at least 2')
    before = _volumes([parents[p] for p in names], eps)
    if not (before > 0).all():
        flat = [p for p, v in zip(names, before) if v <= 0]
        raise ValueError(f'parents {flat} have volume 0 (identical samples)')
    ratios, matched = {}, {}
    for child, xc in children.items():
        after = _volumes([torch.cat([parents[p], xc.to(parents[p].device)])
                          for p in names], eps)
        r = (after / before).tolist()
        ratios[child] = dict(zip(names, r))
        matched[child] = names[min(range(len(r)), key=r.__getitem__)]
        if progress is not None:
            progress.update()
    return dict(
        parent_volumes=dict(zip(names, before.tolist())),
        ratios=ratios,
        matched=matched)
