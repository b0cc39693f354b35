"""Runner set-up shared by ``tools/train.py`` and ``tools/test.py``.

mmengine assumes GPUs for distributed runs: ``init_dist`` calls
``torch.cuda.set_device`` and ``Runner.wrap_model`` hands
``device_ids=[LOCAL_RANK]`` to DistributedDataParallel, which rejects CPU
modules. On machines without CUDA the process group is therefore started
here with gloo (``Runner.setup_env`` skips its own initialisation when a
group exists) and the wrapper config pins ``device_ids=None``; mmengine only
fills ``device_ids`` in when the config leaves it unset.
"""
import os
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.registry import MODEL_WRAPPERS, RUNNERS, DefaultScope
from mmengine.runner import Runner
from torch.nn.parallel import DistributedDataParallel


def _init_cpu_process_group(cfg):
    """Start a gloo process group from the variables torchrun exports."""
    if cfg.launcher != 'pytorch':
        raise RuntimeError(
            'No CUDA device found: distributed runs on CPU support '
            f"'--launcher pytorch' only (torchrun, tools/dist_*.sh), got "
            f"'--launcher {cfg.launcher}'.")
    missing = [
        key for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
        if key not in os.environ
    ]
    if missing:
        raise RuntimeError(
            '--launcher pytorch expects the variables set by torchrun, '
            f'missing: {", ".join(missing)}. Start the script with '
            'tools/dist_train.sh / tools/dist_test.sh or torchrun.')
    kwargs = {}
    timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
    if timeout is not None:
        kwargs['timeout'] = timedelta(seconds=timeout)
    torch_dist.init_process_group(
        backend='gloo',
        init_method='env://',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def _cpu_model_wrapper_cfg(cfg):
    """Wrapper config whose DDP gets no device ids (required for CPU)."""
    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        return dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = wrapper_cfg.get('type', 'MMDistributedDataParallel')
    if isinstance(wrapper_type, str):
        # Resolve the name the way the runner will, in the config's scope.
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, DistributedDataParallel):
        wrapper_cfg.setdefault('device_ids', None)
    return wrapper_cfg


def build_runner(cfg):
    """Build the runner of ``cfg``, preparing CPU-only distributed runs."""
    # mmdsb configs build on mmpretrain; its registries are the default.
    cfg.setdefault('default_scope', 'mmpretrain')
    if cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available():
        if not torch_dist.is_initialized():
            _init_cpu_process_group(cfg)
        cfg.model_wrapper_cfg = _cpu_model_wrapper_cfg(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def cleanup():
    """Tear down the process group after a successful run.

    Not called on errors: a failing rank must exit at once so that the
    launcher stops the others, instead of waiting for them in a barrier.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        # Ranks finish at slightly different times; tearing gloo down while
        # a peer still holds its connection aborts that peer.
        torch_dist.barrier()
        torch_dist.destroy_process_group()
