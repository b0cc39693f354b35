"""Checks of configuration values shared by mmdsb's components.

Each raises a ValueError that names the component, the argument and the
value, so that a bad config fails at build time with the line to fix.
Framework-neutral (torch only): the core, the mmpretrain adapters and the
mmdet adapters all use them.
"""
import math
import numbers
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

__all__ = [
    'positive_int', 'positive_number', 'non_negative_number', 'fraction',
    'check_class_counts'
]

CountsLike = Union[Sequence[float], Tensor]


def _owner(owner: str) -> str:
    return f'{owner}: ' if owner else ''


def positive_int(value, name: str, owner: str = '') -> int:
    """``value`` as an int; it must be an integer >= 1 (not a bool)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value != int(value)
            or value < 1):
        raise ValueError(f'{_owner(owner)}{name} must be a positive '
                         f'integer, got {value!r}')
    return int(value)


def positive_number(value, name: str, owner: str = '') -> float:
    """``value`` as a float; it must be finite and > 0."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f'{_owner(owner)}{name} must be a positive finite '
                         f'number, got {value!r}')
    return float(value)


def non_negative_number(value, name: str, owner: str = '') -> float:
    """``value`` as a float; it must be finite and >= 0."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f'{_owner(owner)}{name} must be a finite number '
                         f'>= 0, got {value!r}')
    return float(value)


def fraction(value, name: str, owner: str = '') -> float:
    """``value`` as a float in [0, 1)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= value < 1):
        raise ValueError(f'{_owner(owner)}{name} must be in [0, 1), got '
                         f'{value!r}')
    return float(value)


def check_class_counts(counts: CountsLike,
                       num_classes: Optional[int] = None,
                       owner: str = 'class_counts') -> Tensor:
    """Validate per-class training counts; return them as float64.

    Every count must be a finite number > 0 (a class without training
    images has no prior, margin or effective number), and there must be
    ``num_classes`` of them when that is given.
    """
    t = torch.as_tensor(counts, dtype=torch.float64).detach().cpu()
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f'{owner}: class counts must be a non-empty 1-D '
                         f'list, got shape {tuple(t.shape)}')
    if num_classes is not None and t.numel() != num_classes:
        raise ValueError(
            f'{owner}: got {t.numel()} class counts but the model has '
            f'{num_classes} classes')
    bad = torch.nonzero(~(torch.isfinite(t) & (t > 0))).flatten()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f'{owner}: class counts must be finite and > 0, class {i} has '
            f'{t[i].item()}')
    return t
