"""Parent-class matching with the semantic scale (DSB paper App. K,
Table 12).

    python tools/analysis_tools/parent_matching.py CONFIG
        --children 1 7 0 6 --parents 1+7 0+6 [--parent-split test]
        [--expected 1+7 1+7 0+6 0+6] [--checkpoint CKPT]

Children and parents are classes of the config's dataset, given by name
or index; a parent may be a union of classes joined with '+'. Children are
read from --split and parents from --parent-split (by default the same
split). For every child the samples are mixed into each parent and the
ratio of the parent's volume after to before mixing is reported; the
parent with the smallest ratio is the match (a child's manifold lies inside
its parent's, so mixing it in barely changes that volume). Writes
parent_matching.json, parent_matching.csv and parent_matching.png.
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
from mmdsb.analysis import parent_ratios
from mmdsb.analysis import plots
from mmdsb.analysis.cli import (base_parser, format_table, load_model,
                                load_vectors, report_warnings, run, setup,
                                write_csv, write_json)
from mmdsb.analysis.data import AnalysisError, select_classes
from mmdsb.analysis.progress import progress_bar


def parse_args(argv=None):
    parser = base_parser(__doc__.split('\n')[0])
    parser.add_argument('--children', nargs='+', required=True,
                        help='child classes (name or index; a+b for unions)')
    parser.add_argument('--parents', nargs='+', required=True,
                        help='parent classes (name or index; a+b for unions)')
    parser.add_argument('--parent-split', choices=['train', 'val', 'test'],
                        help='split the parents are read from '
                        '(default: --split)')
    parser.add_argument('--expected', nargs='+',
                        help='the true parent of each child, to check the '
                        'matches')
    return parser.parse_args(argv)


def gather(v, groups, role, warnings, min_samples):
    """name -> samples of each '+'-joined group of classes."""
    out, members = {}, {}
    for group in groups:
        classes = select_classes(v.names, group.split('+'))
        mask = torch.zeros_like(v.labels, dtype=torch.bool)
        for c in classes:
            mask |= v.labels == c
        n = int(mask.sum())
        if n < min_samples:
            warnings.append(
                f'{role} {group!r} has {n} sample(s) in this split; it needs'
                f' at least {min_samples} and is left out')
            continue
        out[group] = v.x[mask]
        members[group] = set(classes)
    return out, members


def main(argv=None):
    args = parse_args(argv)
    if args.expected and len(args.expected) != len(args.children):
        raise AnalysisError(
            f'--expected gives {len(args.expected)} parents for '
            f'{len(args.children)} children; give one per child')
    if args.expected and not set(args.expected) <= set(args.parents):
        raise AnalysisError('--expected names parents that are not in '
                            '--parents: ' + ', '.join(
                                sorted(set(args.expected) -
                                       set(args.parents))))
    cfg, out_dir = setup(args, 'parent_matching')
    parent_split = args.parent_split or args.split
    model = load_model(args, cfg)
    vc = load_vectors(args, cfg, args.split, model)
    vp = vc if parent_split == args.split else load_vectors(
        args, cfg, parent_split, model)
    warnings = []
    children, child_members = gather(vc, args.children, 'child', warnings, 1)
    parents, parent_members = gather(vp, args.parents, 'parent', warnings, 2)
    if parent_split == args.split:
        for c, cm in child_members.items():
            for p, pm in parent_members.items():
                if cm & pm:
                    warnings.append(
                        f'child {c!r} shares classes with parent {p!r} in '
                        'the same split, so its samples are already in it;'
                        ' read the parents from another split with '
                        '--parent-split')
    report_warnings(warnings)
    if not children or not parents:
        raise AnalysisError('no child or no parent with enough samples '
                            'is left')
    bar = progress_bar(len(children), 'children')
    res = parent_ratios(children, parents, args.eps, bar)
    bar.finish()
    expected = dict(zip(args.children, args.expected or []))
    names = list(parents)

    stem = osp.join(out_dir, 'parent_matching')
    rows = [[c, p, res['ratios'][c][p], res['matched'][c] == p,
             expected[c] == p if c in expected else None]
            for c in children for p in names]
    correct = [res['matched'][c] == expected[c] for c in children
               if c in expected]
    files = [
        write_json(stem + '.json', dict(
            config=args.config, split=args.split, parent_split=parent_split,
            space=vc.space, eps=args.eps, expected=expected or None,
            num_correct=sum(correct) if expected else None, **res,
            warnings=warnings)),
        write_csv(stem + '.csv',
                  ['child', 'parent', 'ratio', 'matched', 'expected'], rows),
        plots.ratio_heatmap(list(children), names, res['ratios'],
                            res['matched'], stem + '.png'),
    ]
    print(f'{vc.space}; children from {args.split}, parents from '
          f'{parent_split}; ratio of parent volume after/before mixing')
    headers = ['child'] + names + ['matched'] + (['expected'] if expected
                                                 else [])
    print(format_table(headers, [
        [c] + [res['ratios'][c][p] for p in names] + [res['matched'][c]] +
        ([expected.get(c)] if expected else []) for c in children]))
    if expected:
        print(f'{sum(correct)} of {len(correct)} children matched their '
              'expected parent')
    print('wrote', ', '.join(files))


if __name__ == '__main__':
    sys.exit(run(main))
