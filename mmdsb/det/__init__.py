"""mmdsb for mmdet 3.x: DSB box heads, losses and the long-tailed digit
detection set.

Only detection configs import this package
(``custom_imports=dict(imports=['mmdsb.det'])``), so classification never
needs mmdet. It needs mmdet 3.3 and mmcv 2.1 with its compiled ops.
"""
try:
    import mmcv.ops  # noqa: F401
    import mmdet  # noqa: F401
except ImportError as error:  # mmcv-lite has no compiled ops
    raise ImportError(
        'mmdsb.det needs mmdet 3.3 and mmcv 2.1 with its compiled ops '
        f'({error}); install them with: bash tools/install.sh --det'
    ) from error

from . import datasets, models  # noqa: E402,F401
