"""Marginal-effect curves of the semantic scale (DSB paper Sec. 3.3,
Fig. 2 left).

    python tools/analysis_tools/marginal_effect.py CONFIG [--checkpoint CKPT]
        [--classes 0 3 7] [--points 20 | --step 10] [--order random|dataset]

The volume of the first m samples of each class for growing m, and its sum
over the classes (a class with fewer than m samples adds all of its
samples, as to a sub-dataset of m images per class). Sample volumes of the
images, or feature volumes with --checkpoint. Writes marginal_effect.json,
marginal_effect.csv and marginal_effect.png.
"""
import os.path as osp
import sys

# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if osp.dirname(osp.dirname(osp.abspath(__file__))) not in sys.path:
    sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))
import _quiet  # noqa: F401

import mmdsb  # noqa: F401  (registers the mmdsb modules)
from mmdsb.analysis import marginal_curves, size_grid
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, format_table, load_model,
                                load_vectors, report_warnings, run, setup,
                                write_csv, write_json)
from mmdsb.analysis.data import AnalysisError, select_classes
from mmdsb.analysis.progress import progress_bar


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0])
    parser.add_argument('--classes', nargs='+',
                        help='class names or indices (default: all)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--points', type=int, default=20,
                       help='number of sample counts m, spread evenly')
    group.add_argument('--step', type=int,
                       help='measure every STEP samples instead')
    parser.add_argument(
        '--order', choices=['random', 'dataset'], default='random',
        help='which samples come first: a random order (the paper\'s '
        'random sub-datasets) or the dataset order')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random order')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg, out_dir = setup(args, 'marginal_effect')
    v = load_vectors(args, cfg, args.split, load_model(args, cfg))
    classes = select_classes(v.names, args.classes)
    counts = [int((v.labels == c).sum()) for c in classes]
    warnings = [f'class {v.names[c]!r} has {n} sample(s): its volume stays 0'
                for c, n in zip(classes, counts) if n < 2]
    report_warnings(warnings)
    try:
        sizes = size_grid(max(counts), args.points, args.step)
    except ValueError as err:
        raise AnalysisError(str(err)) from err
    if not sizes:
        raise AnalysisError('the chosen classes have fewer than 2 samples '
                            'each; there is no curve to draw')
    bar = progress_bar(len(classes), 'classes')
    res = marginal_curves(v.x, v.labels, classes, sizes, args.eps,
                          args.seed if args.order == 'random' else None, bar)
    bar.finish()
    curves = {v.names[c]: res['curves'][c] for c in classes}
    full = {v.names[c]: res['full'][c] for c in classes}
    result = dict(config=args.config, split=args.split, space=v.space,
                  eps=args.eps, order=args.order, seed=args.seed,
                  counts=dict(zip(curves, counts)), sizes=sizes,
                  curves=curves, full_volumes=full, total=res['total'],
                  warnings=warnings)

    stem = osp.join(out_dir, 'marginal_effect')
    headers = ['m'] + list(curves) + ['sum']
    rows = [[m] + [curves[k][i] for k in curves] + [res['total'][i]]
            for i, m in enumerate(sizes)]
    files = [
        write_json(stem + '.json', result),
        write_csv(stem + '.csv', headers, rows),
        plots.marginal_curves(
            sizes, curves, res['total'], stem + '.png',
            {k: (n, full[k]) for k, n in zip(curves, counts)}),
    ]
    print(f'{v.space}, {len(classes)} classes, order: {args.order}')
    total = res['total']
    gain = [None] + [100 * (b - a) / b if b > 0 else None
                     for a, b in zip(total, total[1:])]
    print(format_table(['m', 'sum of volumes', 'increment (%)'],
                       list(zip(sizes, total, gain))))
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
