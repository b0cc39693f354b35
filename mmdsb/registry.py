"""Registries of the ``mmdsb`` scope.

mmdsb registers its modules in mmpretrain's (and mmengine's, mmdet's)
registries; it has no modules of its own scope. mmengine, however, gives
every config inherited as ``mmdsb::path.py`` the scope ``mmdsb``: each of
its dicts with a ``type`` gets ``_scope_='mmdsb'``, and building one
imports ``mmdsb.registry`` and looks up the registry of scope ``mmdsb`` in
the registry tree. Without it mmengine falls back to the registry the build
was called on (e.g. mmengine's root ``MODELS``, which has no
``ImageClassifier``). So every mmpretrain registry gets a child of scope
``mmdsb`` here: a name looked up in it is found in mmpretrain's registry or
mmengine's, the ones mmpretrain configs use.
"""
from mmengine.registry import Registry
from mmpretrain import registry as _mmpretrain_registry

__all__ = []

for _name, _parent in vars(_mmpretrain_registry).items():
    if isinstance(_parent, Registry) and _parent.scope == 'mmpretrain':
        # A child looks names up in its parents' tables without importing
        # their modules, so it imports mmpretrain's locations, then mmdsb.
        globals()[_name] = Registry(
            _parent.name,
            parent=_parent,
            scope='mmdsb',
            locations=list(_parent._locations) + ['mmdsb'])
        __all__.append(_name)
