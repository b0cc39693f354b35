"""Let the LVIS API evaluate under numpy >= 1.24.

The ``lvis`` package on PyPI (0.5.3, the one ``LVISMetric`` imports) still
calls ``np.float``, which numpy 1.24 removed, so ``LVISEval.accumulate``
fails. Its evaluation module gets a numpy view that adds the old alias
(``np.float`` was the builtin ``float``); numpy itself is left untouched.
"""
import types

import numpy as np


class _NumpyWithFloat(types.ModuleType):
    """numpy, plus the ``float`` alias numpy 1.24 removed."""

    float = float

    def __getattr__(self, name):
        return getattr(np, name)


def patch_lvis_eval() -> None:
    """Give ``lvis.eval`` the ``np.float`` alias if numpy lacks it."""
    try:
        import lvis.eval
    except ImportError:  # mmdet raises its own error naming the package
        return
    if not hasattr(np, 'float'):
        lvis.eval.np = _NumpyWithFloat('numpy')
