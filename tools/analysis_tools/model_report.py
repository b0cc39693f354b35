"""Feature-volume report of a trained classifier (DSB paper Sec. 3.4,
Table 1).

    python tools/analysis_tools/model_report.py CONFIG CHECKPOINT
        [--split train] [--eval-split test] [--alpha 2]
        [--alphas 1 1.5 2 2.5 3] [--out-dir DIR]

The model is built, loaded and run as mmengine's Runner does for
tools/test.py (the config's data preprocessor included). The report holds
the pre-logit features of the checkpoint on a split (read with the
config's test pipeline) and per class N, E_n, the feature volume, S', W
and S. With --eval-split it also reports the per-class accuracy on that
split, the metrics of the config's evaluator of that split (the numbers
tools/test.py prints for the test split) and the Pearson correlations of
accuracy with N, E_n, W, S' and S for each alpha. Writes model_report.json,
model_report.csv, model_report.png and, with --eval-split,
model_report_scatter.png.

On an mmdet config a sample is a ground-truth instance and its feature is
what the detector's classifier sees (see mmdsb.analysis.det_features: the
input of the box head's fc_cls for the ground-truth box's RoI, or the
RetinaNet classification tower at the instance's positive anchors). The
table gives each class's LVIS frequency group; with --eval-split the
report holds the metrics of the config's evaluator (AP, APr, APc, APf for
LVISMetric), per-class AP in place of accuracy and the Pearson
correlations of per-class AP with N, E_n, W, S' and S.
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
from mmdsb.analysis import (DEFAULT_BETA, TABLE1_ALPHAS, ClassStats,
                            correlations, overall_accuracy, pearson,
                            per_class_accuracy, split_report)
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, fmt, format_table, load_model,
                                load_vectors, report_warnings, run, setup,
                                write_csv, write_json)
from mmdsb.analysis.data import AnalysisError
from mmdsb.analysis.det_features import per_class_ap
from mmdsb.analysis.det_report import (DET_TABLE_COLUMNS, add_groups,
                                       group_summary, summary_lines)
from mmdsb.analysis.report import TABLE_COLUMNS


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0], checkpoint='required')
    parser.add_argument(
        '--eval-split', choices=['train', 'val', 'test'],
        help='split whose labels give the per-class accuracy')
    parser.add_argument('--alpha', type=float, default=2.0,
                        help='alpha of the W and S columns, >= 1')
    parser.add_argument('--alphas', type=float, nargs='+',
                        default=list(TABLE1_ALPHAS),
                        help='alphas of the correlation table')
    parser.add_argument('--beta', type=float, default=DEFAULT_BETA,
                        help='beta of the effective number E_n')
    parser.add_argument('--top-k', type=int, default=5,
                        help='number of weakest classes listed')
    return parser.parse_args(argv)


def plain(metrics):
    """Metrics as JSON numbers (evaluators may return tensors)."""
    if metrics is None:
        return None
    return {k: float(v) if isinstance(v, (int, float, torch.Tensor)) and
            torch.as_tensor(v).numel() == 1 else v
            for k, v in metrics.items()}


def write_report(args, out_dir, v, result, report, columns, space):
    """Write the report's JSON, CSV and N-and-S figure; return the path
    stem, the table rows and the files written."""
    stem = osp.join(out_dir, 'model_report')
    rows = [[r.get(c) for c in columns] for r in report['classes']]
    files = [
        write_json(stem + '.json', result),
        write_csv(stem + '.csv', columns, rows),
        plots.counts_and_scales(
            v.names, [r['N'] for r in report['classes']],
            [r['S'] for r in report['classes']], stem + '.png',
            f'{osp.basename(args.checkpoint)} ({args.split}): N and S '
            f'({space})')
    ]
    return stem, rows, files


def main(argv=None):
    args = parse_args(argv)
    cfg, out_dir = setup(args, 'model_report')
    model = load_model(args, cfg)
    v = load_vectors(args, cfg, args.split, model,
                     evaluate=args.eval_split == args.split)
    stats = ClassStats(v.x, v.labels, v.num_classes, args.eps, args.device)
    report = split_report(stats, v.names, args.split, args.alpha, args.beta,
                          args.top_k)
    result = dict(
        config=args.config, checkpoint=args.checkpoint, split=args.split,
        space=v.space, feature_dim=int(v.x.shape[1]), eps=args.eps,
        alpha=args.alpha, beta=args.beta, num_samples=len(v.labels),
        **report)
    if v.detection:
        return detection_report(args, cfg, out_dir, model, v, stats, report,
                                result)

    columns = list(TABLE_COLUMNS)
    corr = None
    if args.eval_split:
        ev = v if args.eval_split == args.split else load_vectors(
            args, cfg, args.eval_split, model, evaluate=True)
        if int(ev.labels.max()) >= v.num_classes:
            raise AnalysisError(
                f'the {args.eval_split} split has labels up to '
                f'{int(ev.labels.max())} but the {args.split} split has '
                f'{v.num_classes} classes')
        preds, labels = ev.preds.cpu(), ev.labels.cpu()
        acc = per_class_accuracy(preds, labels, v.num_classes)
        accuracy = dict(
            split=args.eval_split,
            per_class='correct predictions over samples of each class, '
            'from the outputs of model.test_step',
            **overall_accuracy(preds, labels, v.num_classes),
            evaluator=ev.evaluator, metrics=plain(ev.metrics))
        for row, a in zip(report['classes'], acc):
            row['accuracy'] = a
        columns.append('accuracy')
        corr = correlations(stats, acc, args.alpha, args.alphas, args.beta)
        left_out = [r['class'] for r in report['classes']
                    if r['S'] is None or r['accuracy'] is None]
        if left_out:
            report['warnings'].append(
                'classes left out of the correlations (no volume or no '
                f'{args.eval_split} samples): {", ".join(left_out)}')
        result.update(eval_split=args.eval_split, accuracy=accuracy,
                      correlations=corr,
                      correlation_classes_left_out=left_out)
    report_warnings(report['warnings'])

    stem, rows, files = write_report(args, out_dir, v, result, report,
                                     columns, 'feature volume')
    if corr is not None:
        keep = [r for r in report['classes']
                if r['S'] is not None and r['accuracy'] is not None]
        acc_kept = [r['accuracy'] for r in keep]
        series = {'N': [r['N'] for r in keep], "S'": [r["S'"] for r in keep],
                  f'S (alpha={args.alpha:g})': [r['S'] for r in keep]}
        files.append(plots.accuracy_scatter(
            acc_kept, series,
            {k: pearson(x, acc_kept) for k, x in series.items()},
            stem + '_scatter.png'))

    print(f'{v.space}, {len(v.labels)} samples, {v.num_classes} classes, '
          f'dim {v.x.shape[1]}, alpha={args.alpha:g}')
    print(format_table(columns, rows))
    print('weakest by S:', ', '.join(report['weakest_by_S']) or '-')
    print('weakest by N:', ', '.join(report['weakest_by_N']) or '-')
    if corr is not None:
        print(f'{args.eval_split} accuracy (%): class-averaged '
              f'{fmt(accuracy["class_averaged"], 2)}, image-averaged '
              f'{fmt(accuracy["image_averaged"], 2)}')
        if accuracy['metrics'] is None:
            print(f'(the config has no {args.eval_split}_evaluator: per-'
                  'class accuracy of the model\'s predictions)')
        else:
            print(f'accuracy as computed by {accuracy["evaluator"]}:\n  ' +
                  ', '.join(f'{k} {fmt(m, 2)}'
                            for k, m in accuracy['metrics'].items()))
        names = list(corr['pearson'])
        print(f'Pearson correlation with {args.eval_split} accuracy over '
              f'{corr["classes_used"]} classes:')
        print(format_table(names, [[corr['pearson'][k] for k in names]]))
    print('wrote', ', '.join(files))


def detection_report(args, cfg, out_dir, model, v, stats, report, result):
    """The model report of an mmdet config: instance features, LVIS
    groups and, with --eval-split, the evaluator's AP."""
    add_groups(report['classes'], v.groups)
    result.update(missing_features=v.missing,
                  frequency_groups=group_summary(report['classes']))
    if v.missing:
        report['warnings'].append(
            f'{v.missing} ground-truth instance(s) have no positive anchor '
            'and no feature; they are left out')
    columns = list(DET_TABLE_COLUMNS)
    corr = None
    if args.eval_split:
        ev = v if args.eval_split == args.split else load_vectors(
            args, cfg, args.eval_split, model, evaluate=True)
        if ev.metrics is None:
            raise AnalysisError(
                f'the config has no {args.eval_split}_evaluator: a detector '
                'is evaluated by it (pick --eval-split val or test)')
        ap = per_class_ap(ev.metrics, v.names)
        result.update(eval_split=args.eval_split, evaluator=ev.evaluator,
                      metrics=plain(ev.metrics), per_class_ap=ap)
        if ap is not None:
            for row, a in zip(report['classes'], ap):
                row['AP'] = a
            columns.append('AP')
            corr = correlations(stats, ap, args.alpha, args.alphas,
                                args.beta)
            left_out = [r['class'] for r in report['classes']
                        if r['S'] is None or r['AP'] is None]
            if left_out:
                report['warnings'].append(
                    'classes left out of the correlations (no volume or no '
                    f'AP on {args.eval_split}): {", ".join(left_out)}')
            result.update(correlations=corr,
                          correlation_classes_left_out=left_out)
    report_warnings(report['warnings'])

    _, rows, files = write_report(args, out_dir, v, result, report,
                                  columns, 'instance feature volume')
    print(f'{v.space}, {len(v.labels)} instances, {v.num_classes} '
          f'classes, dim {v.x.shape[1]}, alpha={args.alpha:g}')
    print(format_table(columns, rows))
    print('weakest by S:', ', '.join(report['weakest_by_S']) or '-')
    print('weakest by N:', ', '.join(report['weakest_by_N']) or '-')
    if v.groups:
        print('\n'.join(summary_lines(result['frequency_groups'])))
    if args.eval_split:
        overall = {k: m for k, m in result['metrics'].items()
                   if not k.endswith('_precision')}
        print(f'{ev.evaluator}:\n  ' +
              ', '.join(f'{k} {fmt(m, 3)}' for k, m in overall.items()))
        if corr is None:
            print('(the evaluator gives no per-class AP: no correlations)')
        else:
            names = list(corr['pearson'])
            print(f'Pearson correlation with per-class {args.eval_split} AP'
                  f' over {corr["classes_used"]} classes:')
            print(format_table(names, [[corr['pearson'][k] for k in names]]))
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
