"""The ``mmdsb::`` config scope, registered when mmdsb is imported.

mmengine resolves ``'<package>::<path>'`` in ``_base_`` only for the
packages in its ``MODULE2PACKAGE`` table, and reads the file from
``<package folder>/.mim/configs/<path>`` (``setup.py`` puts mmdsb's
``configs/`` there: a copy in a normal install, a symbolic link in an
editable one). Adding mmdsb to the table lets every script that imports
mmdsb first (mmdsb's ``tools/train.py`` and ``tools/test.py``, ``mim train
mmdsb``) load configs such as::

    _base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py',
              'mmdsb::_base_/dsb_runtime.py']

mmengine finds a package's folder from the location of its distribution,
which for an editable (PEP 660) install is ``site-packages``, where no
``mmdsb`` folder exists. Both ``mmdsb::`` paths and pure-Python configs
(``with read_base(): from mmdsb.configs... import *``) therefore take
mmdsb's folder from the imported package: the configs read are always
those of the mmdsb that runs.
"""
import functools
import os.path as osp

from mmengine.config import config as _mmengine_config
from mmengine.config.utils import MODULE2PACKAGE

SCOPE = 'mmdsb'
PACKAGE_DIR = osp.dirname(osp.abspath(__file__))


def register_config_scope() -> None:
    """Make mmengine resolve ``mmdsb::`` config paths (idempotent)."""
    MODULE2PACKAGE[SCOPE] = SCOPE
    original = _mmengine_config.get_installed_path
    if getattr(original, 'mmdsb_scope', False):
        return

    @functools.wraps(original)
    def get_installed_path(package: str) -> str:
        if package == SCOPE:
            return PACKAGE_DIR
        return original(package)

    get_installed_path.mmdsb_scope = True
    _mmengine_config.get_installed_path = get_installed_path


register_config_scope()
