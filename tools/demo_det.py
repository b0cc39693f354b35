"""Train a small Faster R-CNN plain and with DSB on long-tailed digit
detection and compare their LVIS AP, APr, APc and APf.

The set is written on the fly from scikit-learn's bundled digits (no
download) in the LVIS v1 format, so mmdet's ``LVISV1Dataset`` and
``LVISMetric`` run on it unchanged. Both runs train on CPU:

    python tools/demo_det.py [--work-dir work_dirs/demo_det] [--epochs 24]
        [--threads 1] [--num-train 300] [--num-val 100]
"""
import argparse
import json
import os.path as osp
import sys
import time

# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if osp.dirname(osp.abspath(__file__)) not in sys.path:
    sys.path.append(osp.dirname(osp.abspath(__file__)))
import _quiet  # noqa: F401

import torch
from mmengine.config import Config
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdsb.det.datasets import write_digits_lvis  # noqa: E402
from mmdsb.engine import DSBHook  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'CE': 'configs/det-demo/ce_faster-rcnn_tiny-r18_fpn_digits-lvis.py',
    'DSB-CE': 'configs/det-demo/dsb_faster-rcnn_tiny-r18_fpn_digits-lvis.py',
}
KEYS = ('AP', 'APr', 'APc', 'APf')


def run(name: str, config: str, data: dict, work_dir: str,
        epochs: int) -> dict:
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = osp.join(work_dir, name.lower())
    # mmdet's runtime names its visualizer 'visualizer'; a second Runner in
    # this process would get the first one back, writing its scalars into
    # the first run's folder.
    cfg.visualizer.name = f'visualizer_{name.lower()}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data['data_root']
    cfg.val_evaluator.ann_file = data['val_ann_file']
    cfg.test_evaluator = cfg.val_evaluator
    # Evaluate once, after training (runner.test), not also in train().
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    if epochs:
        cfg.train_cfg.update(max_epochs=epochs, val_interval=epochs)
        cfg.param_scheduler[-1].update(
            end=epochs,
            milestones=[int(epochs * 0.75), int(epochs * 11 / 12)])
        cfg.default_hooks.checkpoint.interval = epochs
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    hook = next(h for h in runner.hooks if isinstance(h, DSBHook))
    return dict(
        metrics={k: metrics[f'lvis/bbox_{k}'] for k in KEYS},
        table=hook.scale_table(),
        seconds=time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo_det')
    parser.add_argument(
        '--data-root',
        help='where the digit set is written (default: WORK_DIR/data)')
    parser.add_argument('--epochs', type=int, default=0,
                        help="override the configs' 24 epochs")
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch CPU threads; one is fastest for this small model, '
        'several threads mostly wait for each other on a busy machine')
    parser.add_argument('--num-train', type=int, default=300,
                        help='training images of the digit set')
    parser.add_argument('--num-val', type=int, default=100,
                        help='validation images of the digit set')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = write_digits_lvis(
        args.data_root or osp.join(args.work_dir, 'data'),
        num_train=args.num_train,
        num_val=args.num_val)
    results = {
        name: run(name, cfg, data, args.work_dir, args.epochs)
        for name, cfg in CONFIGS.items()
    }

    print('\nBox AP (%) on the balanced validation split of the long-tailed '
          'digit detection set (LVISMetric)')
    print(f"{'method':<8}" + ''.join(f'{k:>8}' for k in KEYS) +
          f"{'train+test':>12}")
    for name, res in results.items():
        # LVISMetric reports -1 for a frequency group without classes.
        print(f'{name:<8}' + ''.join(
            f'{100 * res["metrics"][k]:>8.1f}' if res['metrics'][k] >= 0
            else f"{'-':>8}" for k in KEYS) +
            f'{res["seconds"]:>11.0f}s')

    with open(data['train_ann_file']) as f:
        cats = json.load(f)['categories']
    ce, dsb = results['CE'], results['DSB-CE']
    print('\nPer class: LVIS frequency group, training images and '
          'instances, semantic scale S of the final bank, DSB weight')
    print(f"{'class':>5} {'group':>5} {'images':>6} {'inst':>5} "
          f"{'S (CE)':>8} {'S (DSB)':>8} {'weight':>7}")
    for c, cat in enumerate(cats):
        print(f"{cat['name']:>5} {cat['frequency']:>5} "
              f"{cat['image_count']:>6} {cat['instance_count']:>5} "
              f"{ce['table']['scale'][c]:>8.4f} "
              f"{dsb['table']['scale'][c]:>8.4f} "
              f"{dsb['table']['weight'][c]:>7.3f}")


if __name__ == '__main__':
    main()
