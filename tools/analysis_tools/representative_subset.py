"""Well-represented subset of a class ("pizza sampling", DSB paper App. I.1).

    python tools/analysis_tools/representative_subset.py CONFIG
        (--size T | --ratio R) [--classes 0 1] [--k 10] [--rounds 5]
        [--seed 0] [--checkpoint CKPT]

For each chosen class (default: all) k random subsets of the target size
are drawn, r times, and the subset of largest volume is kept: it preserves
the class manifold, its edges included, better than a plain random
downsampling. Classes not chosen, and classes not larger than the target,
keep all their samples. Writes

- representative_subset.txt: ``path label`` lines of the kept samples, the
  annotation-list layout of ``CustomDataset`` (``ann_file``); paths are
  relative to the dataset's image prefix when they lie below it. Only for
  datasets whose samples are files.
- representative_subset_indices.json: the kept positions in the split, for
  the ``indices`` argument of any mmengine ``BaseDataset`` (e.g. DigitsLT).
- representative_subset.json and representative_subset.png: per class the
  volume of the whole class, of an average random subset and of the kept
  subset.
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
from mmdsb.analysis import pizza_subset
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, format_table, load_model,
                                load_vectors, report_warnings, run, setup,
                                write_json)
from mmdsb.analysis.data import AnalysisError, select_classes
from mmdsb.analysis.progress import progress_bar


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--size', type=int,
                        help='samples to keep per chosen class')
    target.add_argument('--ratio', type=float,
                        help='fraction of each chosen class to keep, (0, 1]')
    parser.add_argument('--classes', nargs='+',
                        help='class names or indices (default: all)')
    parser.add_argument('--k', type=int, default=10,
                        help='random subsets drawn per round')
    parser.add_argument('--rounds', type=int, default=5,
                        help='rounds of k subsets')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random subsets')
    return parser.parse_args(argv)


def annotation_lines(dataset, positions):
    """``path label`` lines, or ``None`` when samples are not files."""
    prefix = (getattr(dataset, 'data_prefix', None) or {}).get('img_path')
    lines = []
    for i in positions:
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        if not path:
            return None
        if prefix and osp.abspath(path).startswith(
                osp.abspath(prefix) + osp.sep):
            path = osp.relpath(osp.abspath(path), osp.abspath(prefix))
        label = int(torch.as_tensor(info['gt_label']).reshape(-1)[0])
        lines.append(f'{path} {label}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    if args.size is not None and args.size < 2:
        raise AnalysisError(f'--size must be at least 2, got {args.size}')
    if args.ratio is not None and not 0 < args.ratio <= 1:
        raise AnalysisError(f'--ratio must lie in (0, 1], got {args.ratio}')
    if args.k < 1 or args.rounds < 1:
        raise AnalysisError('--k and --rounds must be positive')
    cfg, out_dir = setup(args, 'representative_subset')
    v = load_vectors(args, cfg, args.split, load_model(args, cfg))
    chosen = select_classes(v.names, args.classes)
    gen = torch.Generator().manual_seed(args.seed)
    labels = v.labels.cpu()
    keep = torch.ones(len(labels), dtype=torch.bool)
    per_class, warnings = {}, []
    bar = progress_bar(len(chosen), 'classes')
    for c in chosen:
        name = v.names[c]
        idx = torch.nonzero(labels == c).flatten()
        n = len(idx)
        size = args.size if args.size is not None else max(
            2, round(args.ratio * n))
        if size >= n:
            if size > n:
                warnings.append(
                    f'class {name!r} has {n} samples, fewer than the target '
                    f'size {size}: all of them are kept')
            per_class[name] = dict(N=n, kept=n, selected=False)
        else:
            res = pizza_subset(v.x[idx.to(v.x.device)], size, args.k,
                               args.rounds, args.eps, gen)
            chosen_idx = idx[torch.tensor(res['index'])]
            keep[idx] = False
            keep[chosen_idx] = True
            per_class[name] = dict(
                N=n, kept=size, selected=True, volume=res['volume'],
                full_volume=res['full_volume'],
                random_mean=res['random_mean'],
                round_best=res['round_best'],
                positions=chosen_idx.tolist())
        bar.update()
    bar.finish()
    report_warnings(warnings)

    positions = torch.nonzero(keep).flatten().tolist()
    stem = osp.join(out_dir, 'representative_subset')
    files = [write_json(stem + '_indices.json', positions)]
    lines = annotation_lines(v.dataset, positions)
    if lines is None:
        print('note: the samples of this dataset are not files; use '
              f'{files[0]} as the dataset\'s indices', file=sys.stderr)
    else:
        with open(stem + '.txt', 'w') as f:
            f.write('\n'.join(lines) + '\n')
        files.append(stem + '.txt')
    files.append(write_json(stem + '.json', dict(
        config=args.config, split=args.split, space=v.space, eps=args.eps,
        k=args.k, rounds=args.rounds, seed=args.seed, size=args.size,
        ratio=args.ratio, num_kept=len(positions), classes=per_class,
        warnings=warnings)))
    sel = [k for k, r in per_class.items() if r['selected']]
    if sel:
        files.append(plots.subset_bars(
            sel, [per_class[k]['full_volume'] for k in sel],
            [per_class[k]['random_mean'] for k in sel],
            [per_class[k]['volume'] for k in sel], stem + '.png'))
    print(f'{v.space}, kept {len(positions)} of {len(labels)} samples')
    print(format_table(
        ['class', 'N', 'kept', 'whole', 'random mean', 'kept subset'],
        [[k, r['N'], r['kept'], r.get('full_volume'), r.get('random_mean'),
          r.get('volume')] for k, r in per_class.items()]))
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
