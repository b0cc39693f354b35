"""Compatibility fixes for the pinned OpenMMLab and PyTorch versions.

PyTorch >= 2.6 loads checkpoints with ``weights_only=True`` by default, while
mmengine 0.10.7 calls ``torch.load`` without that argument. Every mmengine
checkpoint stores the ``MessageHub`` state, which pickles
:class:`mmengine.logging.HistoryBuffer` objects holding numpy arrays, so
``load_from``, ``resume`` and mmpretrain's ``init_model`` fail. Instead of
turning the safe loader off, this module allow-lists exactly the globals
such checkpoints reference.
"""
import inspect
import pickle

import numpy as np
import torch

_APPLIED = False


def _history_buffer_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` inside safe checkpoint loading.

    ``HistoryBuffer.__getstate__`` stores its statistics methods (plain
    functions such as ``HistoryBuffer.mean``), which pickle references as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would
    let a checkpoint fetch any attribute of any allowed object, so only
    functions defined on ``HistoryBuffer`` itself are resolved.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str):
        attr = HistoryBuffer.__dict__.get(name)
        if inspect.isfunction(attr):
            return attr
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) while loading a checkpoint '
        'with weights_only=True: only functions defined on '
        'mmengine.logging.HistoryBuffer are allowed.')


def _numpy_globals():
    """Numpy objects that pickled arrays and scalars reference.

    numpy 1.x writes ``numpy.core.multiarray.*`` and numpy 2.x writes
    ``numpy._core.multiarray.*``; both spellings are registered so a
    checkpoint loads whichever numpy saved it.
    """
    if np.lib.NumpyVersion(np.__version__) >= '2.0.0':
        from numpy._core import multiarray
    else:
        from numpy.core import multiarray
    entries = [np.ndarray, np.dtype]
    for core in ('numpy.core', 'numpy._core'):
        entries.append((multiarray._reconstruct,
                        f'{core}.multiarray._reconstruct'))
        entries.append((multiarray.scalar, f'{core}.multiarray.scalar'))
    # Unpickling a dtype calls ``__setstate__`` on an instance of the
    # per-dtype class (numpy >= 1.25), which must be allowed as well.
    # HistoryBuffer stores float64 values and int64 counts.
    entries.extend(type(np.dtype(t)) for t in (np.float64, np.int64))
    return entries


def allow_mmengine_checkpoints():
    """Allow-list the globals of mmengine checkpoints for safe loading.

    Idempotent. Does nothing before PyTorch 2.6: older versions load with
    ``weights_only=False`` by default, and their ``add_safe_globals`` (when
    present at all) does not accept the ``(object, path)`` pairs used here.
    """
    global _APPLIED
    if _APPLIED:
        return
    _APPLIED = True
    major, minor = (int(v) for v in torch.__version__.split('.')[:2])
    if (major, minor) < (2, 6):
        return
    from mmengine.logging import HistoryBuffer
    torch.serialization.add_safe_globals([
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals(),
    ])


allow_mmengine_checkpoints()
