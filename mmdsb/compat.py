"""Compatibility fixes for the pinned OpenMMLab and PyTorch versions.

Safe loading of mmengine checkpoints
------------------------------------

PyTorch >= 2.6 loads checkpoints with ``weights_only=True`` by default, while
mmengine 0.10.7 calls ``torch.load`` without that argument. Every mmengine
checkpoint stores the ``MessageHub`` state, which pickles
:class:`mmengine.logging.HistoryBuffer` objects holding numpy arrays, so
``load_from``, ``resume`` and mmpretrain's ``init_model`` fail. Instead of
turning the safe loader off, this module allow-lists exactly the globals
such checkpoints reference.

Files that are not checkpoints
------------------------------

``torch.load`` of a file that ``torch.save`` did not write (a text file, an
empty file, a results pickle, a truncated download) fails with whatever its
unpickler stumbles on first, e.g. ``KeyError: 101`` or ``EOFError``, naming
neither the file nor the problem. mmengine's loader of local paths, used by
``load_from``, ``resume``, ``load_checkpoint`` and mmpretrain's
``init_model``, is replaced by one that turns such failures into
:class:`NotACheckpointError`.
"""
import inspect
import os.path as osp
import pickle
import tarfile
import zipfile
from typing import Optional

import numpy as np
import torch

_APPLIED = False
# mmengine's own loader of local paths, wrapped by load_from_local.
_mmengine_load_from_local = None


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


class NotACheckpointError(ValueError):
    """A file given as a checkpoint that ``torch.save`` did not write."""


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Reads plain pickled values only: no class or function is imported."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f'global {module}.{name} refused')


def _not_a_checkpoint(path: str) -> Optional[str]:
    """Why the file at ``path`` cannot have been written by ``torch.save``,
    or ``None`` when it may have been.

    Only the container is checked (what ``torch.load`` looks at first), so
    a real checkpoint that fails for another reason (``weights_only``,
    ``map_location``) keeps torch's own error.
    """
    with open(path, 'rb') as f:
        head = f.read(4)
    if not head:
        return 'the file is empty'
    if head == b'PK\x03\x04':  # torch.save's zip format (PyTorch >= 1.6)
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, EOFError, ValueError):
            return 'it is a damaged or truncated zip archive'
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            return 'it is a zip archive without the data.pkl of torch.save'
        return None
    if head[:1] == b'\x80':  # pickle protocol >= 2
        # The legacy format of torch.save starts with a pickled magic number.
        try:
            with open(path, 'rb') as f:
                magic = _NoGlobalsUnpickler(f).load()
        except Exception:
            magic = None
        if type(magic) is int and \
                magic == torch.serialization.MAGIC_NUMBER:
            return None
        return 'it is a pickle file, but not one written by torch.save'
    if tarfile.is_tarfile(path):  # the format of PyTorch < 0.1.10
        return None
    return ('it is neither a zip archive nor a pickle, the formats '
            'torch.save writes')


def _not_a_checkpoint_error(path: str, reason: str) -> NotACheckpointError:
    return NotACheckpointError(
        f'{path} is not a PyTorch checkpoint: {reason}. Expected a file '
        'written by torch.save, such as the .pth checkpoints that mmengine '
        'saves (CheckpointHook).')


def check_checkpoint_file(path: str) -> None:
    """Raise :class:`NotACheckpointError` naming ``path`` when the local
    file cannot have been written by ``torch.save``; let tools fail before
    they build datasets and models."""
    path = osp.expanduser(path)
    reason = _not_a_checkpoint(path)
    if reason is not None:
        raise _not_a_checkpoint_error(path, reason)


def load_from_local(filename, map_location):
    """mmengine's loader of local checkpoint paths, whose errors on a file
    that is not a checkpoint name the file and the problem.

    Named as mmengine's, which ``CheckpointLoader`` logs as the backend.
    """
    try:
        return _mmengine_load_from_local(filename, map_location)
    except FileNotFoundError:
        raise
    except Exception as error:
        path = osp.expanduser(filename)
        try:
            reason = _not_a_checkpoint(path)
        except OSError:
            reason = None
        if reason is None:
            raise
        raise _not_a_checkpoint_error(path, reason) from error


def explain_bad_checkpoints():
    """Register :func:`load_from_local` as mmengine's loader of local
    paths. Idempotent."""
    global _mmengine_load_from_local
    if _mmengine_load_from_local is not None:
        return
    from mmengine.runner import CheckpointLoader
    from mmengine.runner import checkpoint as mmengine_checkpoint
    _mmengine_load_from_local = mmengine_checkpoint.load_from_local
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)


allow_mmengine_checkpoints()
explain_bad_checkpoints()
