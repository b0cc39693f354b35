"""Compare DSB's two bank policies with plain training on the digit demos.

Trains the classification demo (LeNet-5 on long-tailed digits) and the
detection demo (a tiny Faster R-CNN on long-tailed digit detection) with
cross-entropy (CE), DSB with the paper's FIFO queue (DSB-FIFO) and DSB with
the per-sample bank (DSB-per-sample), over several seeds, and prints:

* accuracy per shot group (many / medium / few) or box AP per LVIS
  frequency group (APr / APc / APf), mean and standard deviation over the
  seeds;
* the stability of the rare classes' DSB weights: the coefficient of
  variation (std / mean) of each rare class's weight over the re-weighted
  iterations, averaged over the rare classes (few-shot classes, LVIS
  rare categories), and the re-weighted iterations in which some class
  had no usable semantic scale and took the fallback weight.

Everything runs on CPU from data that ships with scikit-learn:

    python tools/analysis_tools/compare_bank_policies.py \\
        [--tasks cls det] [--seeds 0 1 2] [--work-dir work_dirs/policies]
"""
import argparse
import json
import os.path as osp
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
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

sys.path.insert(0, ROOT)
import mmdsb  # noqa: E402,F401
from mmdsb.engine import DSBHook  # noqa: E402
from mmdsb.engine.stages import DSBStage  # noqa: E402
from mmdsb.evaluation import ShotAccuracy  # noqa: E402

CONFIGS = {
    'cls': ('configs/demo/ce_lenet5_digits-lt.py',
            'configs/demo/dsb_lenet5_digits-lt.py'),
    'det': ('configs/det-demo/ce_faster-rcnn_tiny-r18_fpn_digits-lvis.py',
            'configs/det-demo/dsb_faster-rcnn_tiny-r18_fpn_digits-lvis.py'),
}
# Method: (index into a task's configs, bank policy or None for CE).
METHODS = {
    'CE': (0, None),
    'DSB-FIFO': (1, 'fifo'),
    'DSB-per-sample': (1, 'per_sample'),
}
GROUPS = {
    'cls': ('many', 'medium', 'few'),
    'det': ('APr', 'APc', 'APf'),
}


class WeightRecorder(Hook):
    """After every re-weighted training iteration, the DSB weights of the
    first consumer (those its loss used: the bank has not changed since)
    and whether some class took the fallback weight."""
    priority = 'LOWEST'

    def __init__(self):
        self.weights: List[List[float]] = []
        self.fallback: List[bool] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hook = next(h for h in runner.hooks if isinstance(h, DSBHook))
        weighter = next(iter(hook.weighters.values()))
        if weighter.stage != DSBStage.REWEIGHT:
            return
        scales = weighter.semantic_scales()
        self.weights.append(
            weighter.class_weights(scales, record=False).tolist())
        self.fallback.append(bool(weighter.reducer.missing(scales).any()))


def build_cfg(task: str, method: str, seed: int, args) -> Config:
    index, policy = METHODS[method]
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[task][index]))
    cfg.work_dir = osp.join(args.work_dir, task, f'{method}_seed{seed}')
    cfg.randomness = dict(seed=seed)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**6, save_last=False)
    if policy is not None:
        cfg.custom_hooks[0].bank_policy = policy
    epochs = args.cls_epochs if task == 'cls' else args.det_epochs
    if task == 'det':
        # mmdet's runtime names its visualizer 'visualizer'; a later
        # Runner in this process would get the first one back.
        cfg.visualizer.name = f'visualizer_{method}_{seed}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.data_root = args.det_data['data_root']
        cfg.val_evaluator.ann_file = args.det_data['val_ann_file']
        cfg.test_evaluator = cfg.val_evaluator
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        if epochs:
            cfg.param_scheduler[-1].update(
                end=epochs,
                milestones=[int(epochs * 0.75), int(epochs * 11 / 12)])
    else:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        if epochs:
            cfg.param_scheduler.end = epochs
    if epochs:
        cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs + 1)
    return cfg


def rare_classes(task: str, runner, args) -> List[int]:
    """Few-shot classes (classification) or LVIS rare categories."""
    if task == 'cls':
        shot = next(m for m in runner.test_evaluator.metrics
                    if isinstance(m, ShotAccuracy))
        return [c for c, n in enumerate(shot._counts()) if n < shot.few_thr]
    with open(args.det_data['train_ann_file']) as f:
        cats = json.load(f)['categories']
    return [c for c, cat in enumerate(cats) if cat['frequency'] == 'r']


def run(task: str, method: str, seed: int, args) -> Dict:
    runner = Runner.from_cfg(build_cfg(task, method, seed, args))
    recorder = WeightRecorder()
    runner.register_hook(recorder)
    runner.train()
    metrics = runner.test()
    if task == 'cls':
        groups = {g: metrics[f'shot/{g}'] for g in GROUPS[task]}
    else:  # LVISMetric gives fractions (-1: a group without classes)
        groups = {
            g: 100 * metrics[f'lvis/bbox_{g}']
            if metrics[f'lvis/bbox_{g}'] >= 0 else float('nan')
            for g in GROUPS[task]
        }
    return dict(groups=groups, weights=recorder.weights,
                fallback=recorder.fallback,
                rare=rare_classes(task, runner, args))


def weight_cv(weights: List[List[float]], classes: List[int]) -> float:
    """Mean over ``classes`` of std / mean of their weight over the
    recorded iterations (NaN without re-weighted iterations)."""
    if not weights or not classes:
        return float('nan')
    w = np.asarray(weights, dtype=np.float64)[:, classes]
    return float(np.mean(w.std(axis=0) / w.mean(axis=0)))


def summarise(runs: List[Dict]) -> Dict:
    """Mean and standard deviation over the seeds."""
    def stats(values):
        values = np.asarray(values, dtype=np.float64)
        return float(values.mean()), float(values.std())

    groups = {
        g: stats([r['groups'][g] for r in runs])
        for g in runs[0]['groups']
    }
    return dict(
        groups=groups,
        cv=stats([weight_cv(r['weights'], r['rare']) for r in runs]),
        fallback=stats([sum(r['fallback']) for r in runs]),
        reweighted=stats([len(r['weights']) for r in runs]))


def table(task: str, summary: Dict[str, Dict], seeds: List[int]) -> str:
    title = ('Accuracy (%) per shot group on the digits demo'
             if task == 'cls' else
             'Box AP (%) per LVIS frequency group on the digit detection '
             'demo')
    lines = [
        f'{title}, mean ± std over seeds {seeds}; rare-class weight CV '
        'and re-weighted iterations with a fallback weight'
    ]
    heads = list(GROUPS[task]) + ['rare CV', 'fallback iters']
    lines.append(f"{'method':<16}" + ''.join(f'{h:>16}' for h in heads))
    for method, s in summary.items():
        # A group without classes (LVISMetric's -1) shows as '-'.
        cells = [
            f'{m:.1f} ± {d:.1f}' if m == m else '-'
            for m, d in s['groups'].values()
        ]
        if method == 'CE':
            cells += ['-', '-']
        else:
            cv, fb, it = s['cv'], s['fallback'], s['reweighted']
            cells += [f'{cv[0]:.3f} ± {cv[1]:.3f}',
                      f'{fb[0]:.1f} of {it[0]:.0f}']
        lines.append(f'{method:<16}' + ''.join(f'{c:>16}' for c in cells))
    return '\n'.join(lines)


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+', default=['cls', 'det'],
                        choices=sorted(CONFIGS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/bank_policies')
    parser.add_argument('--cls-epochs', type=int, default=0,
                        help="override the classification demo's 40 epochs")
    parser.add_argument('--det-epochs', type=int, default=0,
                        help="override the detection demo's 24 epochs")
    parser.add_argument('--num-train', type=int, default=300,
                        help='training images of the digit detection set')
    parser.add_argument('--num-val', type=int, default=100,
                        help='validation images of the digit detection set')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads')
    parser.add_argument('--out', help='write every run and the summary to '
                        'this JSON file')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if 'det' in args.tasks:
        import mmdsb.det  # noqa: F401
        from mmdsb.det.datasets import write_digits_lvis
        args.det_data = write_digits_lvis(
            osp.join(args.work_dir, 'det_data'), num_train=args.num_train,
            num_val=args.num_val)
    results = {}
    for task in args.tasks:
        runs = {
            method: [run(task, method, seed, args) for seed in args.seeds]
            for method in METHODS
        }
        summary = {m: summarise(r) for m, r in runs.items()}
        results[task] = dict(runs=runs, summary=summary)
        print('\n' + table(task, summary, args.seeds), flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == '__main__':
    main()
