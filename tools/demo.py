"""Train CE and DSB-CE side by side on long-tailed digits and compare them.

The digits ship with scikit-learn, so this runs anywhere without downloads,
on CPU in well under a minute:

    python tools/demo.py [--work-dir work_dirs/demo] [--epochs 40]
"""
import argparse
import os.path as osp
import sys

# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if osp.dirname(osp.abspath(__file__)) not in sys.path:
    sys.path.append(osp.dirname(osp.abspath(__file__)))
import _quiet  # noqa: F401

from mmengine.config import Config
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmdsb  # noqa: E402,F401
from mmdsb.engine import DSBHook  # noqa: E402
from mmdsb.evaluation import ShotAccuracy  # noqa: E402

CONFIGS = {
    'CE': 'configs/demo/ce_lenet5_digits-lt.py',
    'DSB-CE': 'configs/demo/dsb_lenet5_digits-lt.py',
}


def run(name: str, config: str, work_dir: str, epochs: int) -> dict:
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(__file__)),
                                   config))
    cfg.work_dir = osp.join(work_dir, name.lower())
    if epochs:
        cfg.train_cfg.max_epochs = epochs
        cfg.param_scheduler.end = epochs
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    shot = next(m for m in runner.test_evaluator.metrics
                if isinstance(m, ShotAccuracy))
    hook = next(h for h in runner.hooks if isinstance(h, DSBHook))
    return dict(
        metrics=metrics,
        per_class=shot.per_class_accuracy,
        counts=shot._counts(),
        table=hook.scale_table())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--epochs', type=int, default=0,
                        help='override the configs\' 40 epochs')
    args = parser.parse_args()
    results = {
        name: run(name, cfg, args.work_dir, args.epochs)
        for name, cfg in CONFIGS.items()
    }

    print('\nTop-1 accuracy (%) on the balanced test split of DigitsLT')
    print(f"{'method':<8}" + ''.join(f'{g:>9}' for g in
                                     ('overall', 'many', 'medium', 'few')))
    for name, res in results.items():
        row = [res['metrics'].get(f'shot/{g}') for g in
               ('overall', 'many', 'medium', 'few')]
        print(f'{name:<8}' + ''.join(
            f'{v:>9.2f}' if v is not None else f"{'-':>9}" for v in row))

    ce, dsb = results['CE'], results['DSB-CE']
    print('\nPer class: training count, semantic scale S of the final feature '
          'bank, DSB weight, accuracy (%)')
    print(f"{'class':>5} {'N':>5} {'S (CE)':>8} {'S (DSB)':>8} "
          f"{'weight':>7} {'acc CE':>7} {'acc DSB':>8}")
    for c, n in enumerate(ce['counts']):
        print(f"{c:>5} {n:>5} {ce['table']['scale'][c]:>8.4f} "
              f"{dsb['table']['scale'][c]:>8.4f} "
              f"{dsb['table']['weight'][c]:>7.3f} "
              f"{ce['per_class'][c]:>7.1f} {dsb['per_class'][c]:>8.1f}")


if __name__ == '__main__':
    main()
