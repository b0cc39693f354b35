"""Compare RIDE with DSB+RIDE's two bank choices on the digits demo.

Trains a small RIDE (a ResNet-18-style trunk of 16 / 32 channels shared
by 3 experts of 32 / 64 channels, normalised classifiers, the RIDE loss)
on the long-tailed digits of ``configs/demo`` (342 training images,
counts 124 down to 2), with the demo's schedule (40 epochs, SGD lr 0.05
with linear decay; DRW and the distribution-aware temperatures after
epoch 32, as RIDE's 80 of 100), as:

* RIDE: the plain RIDE loss;
* DSB+RIDE (mean): one feature bank of the mean of the experts'
  features, whose weights every expert's classification term uses;
* DSB+RIDE (per expert): one bank per expert, each expert weighted by the
  scales of its own features;

and, for reference, CE: the same trunk with one expert (a plain ResNet of
16 / 32 / 32 / 64 channels) and a linear classifier trained with
cross-entropy. It runs each over several seeds and prints the test
accuracy per shot group (many / medium / few) and overall, mean and
standard deviation over the seeds.
Everything runs on CPU from data that ships with scikit-learn:

    python tools/analysis_tools/compare_ride_banks.py [--seeds 0 1 2]
"""
import argparse
import os.path as osp
import re
import sys
from typing import Dict, List

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROOT = osp.dirname(TOOLS)
# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if TOOLS not in sys.path:
    sys.path.append(TOOLS)
import _quiet  # noqa: F401,E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

sys.path.insert(0, ROOT)
import mmdsb  # noqa: E402,F401

DEMO = 'configs/demo/ce_lenet5_digits-lt.py'
# Method: the DSB bank of DSBRIDEHead, None for plain RIDE, 'ce' for the
# one-expert cross-entropy reference.
METHODS = {
    'CE': 'ce',
    'RIDE': None,
    'DSB+RIDE (mean)': 'mean',
    'DSB+RIDE (per expert)': 'per_expert',
}
GROUPS = ('many', 'medium', 'few', 'overall')


def build_cfg(method: str, seed: int, args) -> Config:
    bank = METHODS[method]
    cfg = Config.fromfile(osp.join(ROOT, DEMO))
    slug = re.sub(r'[^a-z0-9]+', '-', method.lower()).strip('-')
    cfg.work_dir = osp.join(args.work_dir, f'{slug}_seed{seed}')
    cfg.randomness = dict(seed=seed)
    epochs = args.epochs
    head = dict(
        type='RIDEHead' if bank is None else 'DSBRIDEHead',
        num_classes=10,
        in_channels=64,
        num_experts=3,
        loss=dict(type='RIDELoss', drw_epoch=epochs * 4 // 5,
                  temperature_factor=0.02))
    if bank == 'ce':
        head = dict(type='LinearClsHead', num_classes=10, in_channels=64,
                    loss=dict(type='CrossEntropyLoss'))
    elif bank is not None:
        head['dsb_bank'] = bank
    cfg.model = dict(
        type='ImageClassifier',
        backbone=dict(
            type='RIDEResNet',
            trunk=dict(type='ResNet', depth=18, in_channels=1,
                       stem_channels=16, base_channels=16),
            num_experts=1 if bank == 'ce' else 3,
            expert_channels=(32, 64)),
        neck=dict(type='GlobalAveragePooling'),
        head=head)
    cfg.default_hooks.class_counts = dict(type='ClassCountsHook')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**6, save_last=False)
    if bank in (None, 'ce'):
        cfg.custom_hooks = []
    else:
        cfg.custom_hooks[0].reweight = True
    cfg.param_scheduler.end = epochs
    cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs + 1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    return cfg


def run(method: str, seed: int, args) -> Dict[str, float]:
    runner = Runner.from_cfg(build_cfg(method, seed, args))
    runner.train()
    metrics = runner.test()
    groups = {g: metrics[f'shot/{g}'] for g in GROUPS}
    print(f'{method}, seed {seed}: ' + ', '.join(
        f'{g} {v:.1f}' for g, v in groups.items()), flush=True)
    return groups


def table(summary: Dict[str, Dict], seeds: List[int]) -> str:
    lines = [
        'Accuracy (%) per shot group on the digits demo, mean ± std over '
        f'seeds {seeds}',
        f"{'method':<24}" + ''.join(f'{g:>14}' for g in GROUPS)
    ]
    for method, groups in summary.items():
        lines.append(f'{method:<24}' + ''.join(
            f'{m:>8.1f} ± {d:.1f}' for m, d in groups.values()))
    return '\n'.join(lines)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument('--work-dir', default='work_dirs/ride_banks')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    summary = {}
    for method in args.methods:
        runs = [run(method, seed, args) for seed in args.seeds]
        summary[method] = {
            g: (float(np.mean([r[g] for r in runs])),
                float(np.std([r[g] for r in runs])))
            for g in GROUPS
        }
    print('\n' + table(summary, args.seeds), flush=True)
    return summary


if __name__ == '__main__':
    main()
