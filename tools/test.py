"""Evaluate a checkpoint on the test split of a config.

    python tools/test.py CONFIG CHECKPOINT [--out results.pkl] ...
    bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [...]
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

# tools/_quiet.py, before torch or mmengine are imported: it silences the
# known-harmless warnings of the pinned stack.
import _quiet  # noqa: F401
# Then mmdsb: applies the checkpoint-loading fix and registers modules.
import mmdsb  # noqa: F401
import mmengine
import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import is_main_process
from mmengine.evaluator import DumpResults
from mmengine.logging import print_log

from mmdsb.compat import check_checkpoint_file
from mmdsb.evaluation import RetrievalMetric

from _launch import build_runner, cleanup


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a model checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save logs and metrics')
    parser.add_argument('--out', help='the file to write results to')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='whether --out receives the metrics or the predictions '
        '(default: predictions)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings as key=value pairs, e.g. '
        'test_dataloader.batch_size=8 or key="[a,b]" for lists')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable the pin_memory option of the dataloader')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: use `tta_model`/`tta_pipeline` of the '
        'config, by default average the scores of the image and its '
        'horizontal flip')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out to name the output file')
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    # Before the Runner builds the test set, which may take minutes.
    check_checkpoint_file(args.checkpoint)
    cfg.load_from = args.checkpoint
    # Testing only loads weights; never restore optimizer or loop state.
    cfg.resume = False

    if cfg.get('test_dataloader') is None:
        raise ValueError(f'{args.config} has no `test_dataloader`')

    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            # Same loading steps, then the original and its flip, each packed.
            cfg.tta_pipeline = deepcopy(test_pipeline)
            cfg.tta_pipeline[-1] = dict(
                type='TestTimeAug',
                transforms=[
                    [
                        dict(type='RandomFlip', prob=1.),
                        dict(type='RandomFlip', prob=0.)
                    ],
                    [test_pipeline[-1]],
                ])
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    dataloader_cfg = ConfigDict(
        # Pinned memory only helps copies to a GPU.
        pin_memory=torch.cuda.is_available(),
        collate_fn=dict(type='default_collate'))
    dataloader_cfg.update(cfg.test_dataloader)
    if args.no_pin_memory:
        dataloader_cfg.pin_memory = False
    cfg.test_dataloader = dataloader_cfg

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    runner = build_runner(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    # Metric learning: Recall@K and NMI as a table after mmengine's line.
    for metric in runner.test_evaluator.metrics:
        if isinstance(metric, RetrievalMetric) and is_main_process():
            print_log(metric.format_table(metrics), logger='current')
    if args.out and args.out_item == 'metrics' and is_main_process():
        mmengine.dump(metrics, args.out)
    cleanup()


if __name__ == '__main__':
    main()
