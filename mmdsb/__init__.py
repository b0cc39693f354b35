"""mmdsb: semantic-scale-balanced learning for OpenMMLab.

Importing the package (or ``custom_imports=dict(imports=['mmdsb'])`` in a
config) registers its datasets, metrics, heads, losses, hooks and weighter.
"""
from . import compat  # noqa: F401  (must run before any checkpoint load)
# Lets mmengine load 'mmdsb::' configs (config_scope.py).
from . import config_scope  # noqa: F401
# Names the dataset when one holds no sample (dataset_checks.py).
from . import dataset_checks  # noqa: F401
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
