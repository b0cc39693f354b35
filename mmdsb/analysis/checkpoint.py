"""The weights of a checkpoint, checked against the model of a config.

mmengine's ``Runner.load_checkpoint`` loads non-strictly: a checkpoint of
another model only logs the keys it could not load, and the analysis would
go on with partly random weights. :func:`check_state_dict` turns every
mismatch into one clear error first.
"""
import torch
from mmengine.runner import CheckpointLoader

from ..compat import NotACheckpointError
from .data import AnalysisError


def read_state_dict(checkpoint: str) -> dict:
    """The state dict of a checkpoint file, without the ``module.`` prefix
    of a distributed wrapper (the prefix ``Runner.load_checkpoint``
    strips)."""
    # Logged like the Runner's own loading (quiet at its WARNING level).
    try:
        ckpt = CheckpointLoader.load_checkpoint(
            checkpoint, map_location='cpu', logger='current')
    except NotACheckpointError as err:
        # The analysis commands end with the message, not a traceback.
        raise AnalysisError(str(err)) from err
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise AnalysisError(f'the checkpoint {checkpoint} holds no state '
                            'dict')
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in state.items()}


def check_state_dict(model: torch.nn.Module, state: dict,
                     checkpoint: str) -> None:
    """Raise :class:`AnalysisError` naming every parameter whose shape in
    the checkpoint differs from the model built from the config, and every
    parameter the checkpoint lacks."""
    expected = model.state_dict()
    wrong = [
        key for key, value in state.items()
        if key in expected and tuple(value.shape) != tuple(
            expected[key].shape)
    ]
    if wrong:
        hint = ''
        if any(k.startswith('head.') for k in wrong):
            hint = (' The classifier head differs: was the checkpoint '
                    'trained with another number of classes '
                    '(model.head.num_classes)?')
        raise AnalysisError(
            f'checkpoint {checkpoint} does not match the model of the '
            'config: ' + '; '.join(
                f'{k}: {tuple(state[k].shape)} in the checkpoint, '
                f'{tuple(expected[k].shape)} in the config'
                for k in wrong) + '.' + hint)
    missing = [k for k in expected if k not in state]
    if missing:
        raise AnalysisError(
            f'checkpoint {checkpoint} lacks {len(missing)} parameter(s) of '
            f'the config\'s model, e.g. {", ".join(missing[:5])}')
