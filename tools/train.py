"""Train a classifier from an mmpretrain/mmdsb config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] ...
    bash tools/dist_train.sh CONFIG GPUS [...]
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

# tools/_quiet.py, before torch or mmengine are imported: it silences the
# known-harmless warnings of the stack.
import _quiet  # noqa: F401
# Imported next: applies the checkpoint-loading fix and registers modules.
import mmdsb  # noqa: F401
import torch
from mmengine.config import Config, ConfigDict, DictAction

from mmdsb.compat import check_checkpoint_file

from _launch import build_runner, cleanup


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, resume from '
        'the latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual over the base batch size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable the pin_memory option of the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable the persistent_workers option of the dataloaders')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings as key=value pairs, e.g. '
        'train_cfg.max_epochs=3 or key="[a,b]" for lists')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun exports LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir priority: command line > config > config file name
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        if cfg.get('optim_wrapper') is None:
            raise ValueError('--amp needs an `optim_wrapper` in the config')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume checkpoint not found: {args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume

    default_dataloader_cfg = ConfigDict(
        # Pinned memory only helps copies to a GPU.
        pin_memory=torch.cuda.is_available(),
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )

    def set_default_dataloader_cfg(field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg[field])
        # persistent_workers is only valid with worker processes.
        if dataloader_cfg.get('num_workers', 0) == 0:
            dataloader_cfg.persistent_workers = False
        if args.no_pin_memory:
            dataloader_cfg.pin_memory = False
        if args.no_persistent_workers:
            dataloader_cfg.persistent_workers = False
        cfg[field] = dataloader_cfg

    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_default_dataloader_cfg(field)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # After --cfg-options, which may set auto_scale_lr.base_batch_size.
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            raise ValueError(
                '--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size='
                '...)` in the config or in --cfg-options')
        cfg.auto_scale_lr.enable = True

    # The Runner loads it only after building the datasets, which may take
    # minutes; a file that is no checkpoint fails now.
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and osp.isfile(osp.expanduser(load_from)):
        check_checkpoint_file(load_from)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg)
    runner.train()
    cleanup()


if __name__ == '__main__':
    main()
