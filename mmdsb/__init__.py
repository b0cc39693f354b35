"""mmdsb: semantic-scale-balanced learning for OpenMMLab.

Importing the package (or ``custom_imports=dict(imports=['mmdsb'])`` in a
config) registers its hooks and weighter and, where mmpretrain is
installed, its datasets, metrics, heads and losses. The core
(:mod:`mmdsb.semantic_scale`, :mod:`mmdsb.feature_bank`,
:mod:`mmdsb.engine`) needs only torch and mmengine; the mmdet adapters are
imported on their own (``mmdsb.det``).
"""
import importlib.util

from . import compat  # noqa: F401  (must run before any checkpoint load)
# Lets mmengine load 'mmdsb::' configs (config_scope.py).
from . import config_scope  # noqa: F401
# Names the dataset when one holds no sample (dataset_checks.py).
from . import dataset_checks  # noqa: F401
from . import engine  # noqa: F401
from .version import __version__

__all__ = ['__version__']


def _installed(name: str) -> bool:
    """Whether the top-level package ``name`` can be found (an import hook
    that refuses it, or a module entry without a spec, counts as not
    installed)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# The mmpretrain adapters. An installed mmpretrain that fails to import
# raises its own error here rather than leaving them silently unregistered.
if _installed('mmpretrain'):
    from . import datasets, evaluation, models  # noqa: F401
