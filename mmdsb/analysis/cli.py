"""Command-line plumbing shared by ``tools/analysis_tools/*.py``: common
arguments, loading of sample vectors or features, output files and the
printed summary table."""
import argparse
import csv
import json
import math
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import torch
from mmengine.config import DictAction

from .data import (AnalysisError, build_dataset, class_names, load_config,
                   sample_vectors)
from .det_data import crop_vectors, frequency_groups, is_detection
from .det_features import is_detector, split_instance_features
from .features import split_features
from .runner_model import RunnerModel


def base_parser(description: str, checkpoint: str = 'optional'):
    """Parser with the arguments every analysis command takes.

    ``checkpoint``: ``'required'`` (a positional argument), ``'optional'``
    (``--checkpoint``: features of the model instead of pixels) or
    ``'none'``.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config file (the training config)')
    if checkpoint == 'required':
        parser.add_argument('checkpoint', help='checkpoint file')
    elif checkpoint == 'optional':
        parser.add_argument(
            '--checkpoint',
            help='measure feature volumes (pre-logits of this checkpoint) '
            'instead of sample volumes of the images')
    parser.add_argument(
        '--split', default='train', choices=['train', 'val', 'test'],
        help='dataloader of the config whose dataset is analysed')
    parser.add_argument(
        '--out-dir',
        help='output folder (default: work_dirs/analysis/<config name>)')
    parser.add_argument(
        '--image-size', type=int, default=16,
        help='sample volume: images are resized to SIZE x SIZE x 3')
    parser.add_argument(
        '--eps', type=float, default=1.0,
        help='radius of the packing spheres of the volume')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device for the model and the volume computation')
    parser.add_argument(
        '--workers', type=int, default=0, help='data loading processes')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings as key=value pairs')
    return parser


def setup(args, tool: str):
    """Config and output folder of a command."""
    if not osp.isfile(args.config):
        raise AnalysisError(f'config file not found: {args.config}')
    ckpt = getattr(args, 'checkpoint', None)
    if ckpt and '://' not in ckpt and not osp.isfile(ckpt):
        raise AnalysisError(f'checkpoint file not found: {ckpt}')
    if args.eps <= 0 or not math.isfinite(args.eps):
        raise AnalysisError(f'--eps must be a positive number, got '
                            f'{args.eps}')
    if str(args.device).startswith('cuda') and not torch.cuda.is_available():
        raise AnalysisError(f'--device {args.device}: no CUDA device is '
                            'available; use --device cpu')
    cfg = load_config(args.config, args.cfg_options)
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'analysis',
        osp.splitext(osp.basename(args.config))[0])
    os.makedirs(out_dir, exist_ok=True)
    print(f'{tool}: {args.config}, {args.split} split -> {out_dir}',
          file=sys.stderr)
    return cfg, out_dir


class Vectors:
    """The analysed vectors of one split: ``x`` (``N x d``), ``labels``,
    class ``names``, the ``dataset``, a description of the ``space`` and,
    for features of a checkpoint, the model's ``preds`` and, when the split
    was evaluated, the evaluator's ``metrics`` and its description
    ``evaluator``. For detection (one sample per ground-truth instance)
    ``detection`` is set, ``groups`` holds the LVIS frequency group of each
    class (``None`` without LVIS categories) and ``missing`` the instances
    without a feature."""

    def __init__(self, dataset, x, labels, names, space, preds=None,
                 metrics=None, evaluator=None, detection=False, missing=0):
        self.dataset, self.x, self.labels = dataset, x, labels
        self.names, self.space, self.preds = names, space, preds
        self.metrics, self.evaluator = metrics, evaluator
        self.detection, self.missing = detection, missing
        self.groups = frequency_groups(dataset, len(names)) \
            if detection else None

    @property
    def num_classes(self) -> int:
        return len(self.names)


def load_model(args, cfg) -> Optional[RunnerModel]:
    """The model of ``args.checkpoint`` as mmengine's Runner builds it, or
    ``None`` without ``--checkpoint``: the one way every command reads a
    checkpoint."""
    ckpt = getattr(args, 'checkpoint', None)
    return RunnerModel(cfg, ckpt, args.device) if ckpt else None


def load_vectors(args, cfg, split: str, model: Optional[RunnerModel] = None,
                 evaluate: bool = False) -> Vectors:
    """Sample vectors of ``split``, or the features of ``model`` (see
    :func:`load_model`); ``evaluate`` also runs the split's evaluator.
    For an mmdet config the samples are the ground-truth instances: their
    box crops, or the detector's instance features."""
    if model is not None and is_detector(model.model):
        res = split_instance_features(model, split, args.workers, evaluate)
        dataset, x, labels = res.dataset, res.feats, res.labels
        extra = dict(metrics=res.metrics, evaluator=res.evaluator,
                     detection=True, missing=res.missing)
        space = f'feature volume ({res.space}, {model.checkpoint})'
    elif model is not None:
        res = split_features(model, split, args.workers, evaluate)
        dataset, x, labels = res.dataset, res.feats, res.labels
        extra = dict(preds=res.preds, metrics=res.metrics,
                     evaluator=res.evaluator)
        space = f'feature volume (pre-logits of {model.checkpoint})'
    else:
        dataset = build_dataset(cfg, split, pipeline=[])
        s = args.image_size
        if is_detection(dataset):
            x, labels = crop_vectors(dataset, args.image_size)
            extra = dict(detection=True)
            space = f'sample volume of ground-truth crops ({s}x{s}x3 pixels)'
        else:
            x, labels = sample_vectors(dataset, args.image_size,
                                       args.workers)
            extra = {}
            space = f'sample volume ({s}x{s}x3 pixels)'
    names = class_names(dataset, labels)
    return Vectors(dataset, x.to(args.device), labels.to(args.device),
                   names, space, **extra)


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        if math.isnan(value):
            return '-'
        return f'{value:.{digits}g}' if abs(value) >= 1e4 else \
            f'{value:.{digits}f}'
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Plain-text table with right-aligned columns."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    lines = ['  '.join(h.rjust(w) for h, w in zip(headers, widths))]
    lines.append('  '.join('-' * w for w in widths))
    lines += ['  '.join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return '\n'.join(lines)


def write_json(path: str, data) -> str:
    with open(path, 'w') as f:
        json.dump(data, f, indent=2)
    return path


def write_csv(path: str, headers: Sequence[str],
              rows: Sequence[Sequence]) -> str:
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(['' if v is None else v for v in row])
    return path


def report_warnings(messages: List[str]) -> None:
    for msg in messages:
        print(f'warning: {msg}', file=sys.stderr)


def run(main, argv: Optional[Sequence[str]] = None) -> int:
    """Run a command's ``main``; bad input ends it with a one-line message
    and exit status 1 instead of a traceback."""
    try:
        main(argv)
    except AnalysisError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0
