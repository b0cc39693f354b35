"""Sample-volume report of a dataset split (DSB paper App. E, Fig. 7).

    python tools/analysis_tools/dataset_report.py CONFIG [--split train]
        [--out-dir DIR] [--image-size 16] [--alpha 2] [--plot bar|radar]

Every image is resized to SIZE x SIZE x 3 and flattened; per class the
report gives N, the effective number E_n, the volume, S', W and S, and
names the weakest classes by S and by N. Writes dataset_report.json,
dataset_report.csv and dataset_report.png (N against S per class).

On an mmdet config a sample is a ground-truth instance: the crop of its
box, resized the same way. The table then also gives each class's LVIS
frequency group (r, c, f) and names the rare classes whose S lies above
the median and the frequent ones whose S lies below it.
"""
import os.path as osp
import sys

# tools/_quiet.py first, before torch or mmengine are imported: it silences
# the known-harmless warnings of the stack.
if osp.dirname(osp.dirname(osp.abspath(__file__))) not in sys.path:
    sys.path.append(osp.dirname(osp.dirname(osp.abspath(__file__))))
import _quiet  # noqa: F401

import mmdsb  # noqa: F401  (registers the mmdsb datasets)
from mmdsb.analysis import ClassStats, DEFAULT_BETA, split_report
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, format_table, load_vectors,
                                report_warnings, run, setup, write_csv,
                                write_json)
from mmdsb.analysis.det_report import (DET_TABLE_COLUMNS, add_groups,
                                       group_summary, summary_lines)
from mmdsb.analysis.report import TABLE_COLUMNS


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0], checkpoint='none')
    parser.add_argument('--alpha', type=float, default=2.0,
                        help='alpha of W = log2(alpha + W\'), >= 1')
    parser.add_argument('--beta', type=float, default=DEFAULT_BETA,
                        help='beta of the effective number E_n')
    parser.add_argument('--top-k', type=int, default=5,
                        help='number of weakest classes listed')
    parser.add_argument('--plot', choices=['bar', 'radar'], default='bar',
                        help='figure of N against S')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg, out_dir = setup(args, 'dataset_report')
    v = load_vectors(args, cfg, args.split)
    stats = ClassStats(v.x, v.labels, v.num_classes, args.eps, args.device)
    report = split_report(stats, v.names, args.split, args.alpha, args.beta,
                          args.top_k)
    report_warnings(report['warnings'])
    result = dict(
        config=args.config, split=args.split, space=v.space,
        image_size=args.image_size, eps=args.eps, alpha=args.alpha,
        beta=args.beta, num_samples=len(v.labels), **report)

    columns = TABLE_COLUMNS
    if v.detection:
        columns = DET_TABLE_COLUMNS
        add_groups(report['classes'], v.groups)
        result['frequency_groups'] = group_summary(report['classes'])

    stem = osp.join(out_dir, 'dataset_report')
    rows = [[r[c] for c in columns] for r in report['classes']]
    files = [
        write_json(stem + '.json', result),
        write_csv(stem + '.csv', columns, rows),
        plots.counts_and_scales(
            v.names, [r['N'] for r in report['classes']],
            [r['S'] for r in report['classes']], stem + '.png',
            f'{osp.basename(args.config)} ({args.split}): N and S',
            args.plot),
    ]
    print(f'{v.space}, {len(v.labels)} samples, {v.num_classes} classes, '
          f'alpha={args.alpha:g}')
    print(format_table(columns, rows))
    print('weakest by S:', ', '.join(report['weakest_by_S']) or '-')
    print('weakest by N:', ', '.join(report['weakest_by_N']) or '-')
    if v.detection and v.groups:
        print('\n'.join(summary_lines(result['frequency_groups'])))
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
