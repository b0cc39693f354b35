# Makes pytest put the repository root first on sys.path, so the tests
# import this checkout's mmdsb even where another copy is installed.

import pytest  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402


def _kept_default_scope():
    """Restore mmengine's default scopes to what they were before.

    mmengine's current default scope is the last one created, and every
    Runner creates one: after a detection test it would stay 'mmdet', and
    a later test that builds an mmpretrain dataset by name would look it up
    in mmdet's registry.
    """
    before = DefaultScope._instance_dict.copy()
    yield
    # Reassigned, not updated: mmengine's overwrite_default_scope replaces
    # the dict object itself.
    DefaultScope._instance_dict = before


# Per module (around module-scoped fixtures that train a model) and per test.
restore_default_scope_of_module = pytest.fixture(
    autouse=True, scope='module')(_kept_default_scope)
restore_default_scope = pytest.fixture(autouse=True)(_kept_default_scope)


def pytest_configure(config):
    # Tests that train for long or run the tools end to end; the fast subset
    # is `pytest -m "not slow"`.
    config.addinivalue_line(
        'markers', 'slow: takes more than about 10 s on 2 CPU cores '
        '(deselect with -m "not slow")')
