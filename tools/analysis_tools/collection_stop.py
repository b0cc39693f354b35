"""Data-collection stopping rule (DSB paper App. I.2).

    python tools/analysis_tools/collection_stop.py CONFIG --step M
        [--alpha 1] [--classes 3 7] [--order dataset|random]
        [--checkpoint CKPT]

The samples of each class are taken in collection order (the dataset
order, or a random order with --order random), M at a time. After the
n-th batch the class volume is S_n; the relative increment
(S_n - S_{n-1}) / S_n per batch is reported, with the first batch at which
it falls below alpha percent: there collecting more samples of the class
adds little diversity. Writes collection_stop.json, collection_stop.csv
and collection_stop.png.
"""
import os.path as osp
import sys

# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if osp.dirname(osp.dirname(osp.abspath(__file__))) not in sys.path:
    sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))
import _quiet  # noqa: F401

import torch

import mmdsb  # noqa: F401  (registers the mmdsb modules)
from mmdsb.analysis import collection_curve
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, format_table, load_model,
                                load_vectors, report_warnings, run, setup,
                                write_csv, write_json)
from mmdsb.analysis.data import AnalysisError, select_classes
from mmdsb.analysis.progress import progress_bar


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0])
    parser.add_argument('--step', type=int, required=True,
                        help='samples collected per step (m)')
    parser.add_argument('--alpha', type=float, default=1.0,
                        help='stop when the increment is below ALPHA percent')
    parser.add_argument('--classes', nargs='+',
                        help='class names or indices (default: all)')
    parser.add_argument('--order', choices=['dataset', 'random'],
                        default='dataset', help='collection order')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random order')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.step < 1:
        raise AnalysisError(f'--step must be positive, got {args.step}')
    if not args.alpha > 0:
        raise AnalysisError(f'--alpha must be positive, got {args.alpha}')
    cfg, out_dir = setup(args, 'collection_stop')
    v = load_vectors(args, cfg, args.split, load_model(args, cfg))
    classes = select_classes(v.names, args.classes)
    gen = torch.Generator().manual_seed(args.seed)
    labels = v.labels.cpu()
    curves, warnings = {}, []
    bar = progress_bar(len(classes), 'classes')
    for c in classes:
        name = v.names[c]
        idx = torch.nonzero(labels == c).flatten()
        if args.order == 'random':
            idx = idx[torch.randperm(len(idx), generator=gen)]
        if len(idx) < 2 * args.step:
            warnings.append(
                f'class {name!r} has {len(idx)} samples, fewer than two '
                f'steps of {args.step}: no increment to measure')
        curve = collection_curve(v.x[idx.to(v.x.device)], args.step,
                                 args.alpha, args.eps)
        if len(idx) >= 2 * args.step and curve['stop_step'] is None:
            warnings.append(
                f'class {name!r}: the increment never fell below '
                f'{args.alpha:g}% in {len(idx)} samples; collect more')
        curves[name] = dict(N=len(idx), **curve)
        bar.update()
    bar.finish()
    report_warnings(warnings)

    stem = osp.join(out_dir, 'collection_stop')
    rows = [[name, n, count, vol, rel]
            for name, c in curves.items()
            for n, (count, vol, rel) in enumerate(
                zip(c['counts'], c['volumes'], c['rel_increments']), 1)]
    files = [
        write_json(stem + '.json', dict(
            config=args.config, split=args.split, space=v.space,
            eps=args.eps, step=args.step, alpha=args.alpha,
            order=args.order, classes=curves, warnings=warnings)),
        write_csv(stem + '.csv',
                  ['class', 'step', 'samples', 'volume', 'rel_increment'],
                  rows),
        plots.stopping_curves(curves, args.alpha, stem + '.png'),
    ]
    print(f'{v.space}, step {args.step}, alpha {args.alpha:g}%')
    print(format_table(
        ['class', 'N', 'steps', 'stop step', 'stop at',
         'last increment (%)'],
        [[k, c['N'], len(c['counts']), c['stop_step'], c['stop_count'],
          100 * c['rel_increments'][-1]
          if c['counts'] and c['rel_increments'][-1] is not None else None]
         for k, c in curves.items()]))
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
