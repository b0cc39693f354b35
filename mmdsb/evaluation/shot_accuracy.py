"""Top-1 accuracy overall and by many/medium/few-shot class groups."""
import csv
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

GROUPS = ('many', 'medium', 'few')


def counts_from_split_list(path: str) -> List[int]:
    """Images per class of a ``path label`` split list."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'training split list not found: {path}')
    labels = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(
                    f'{path}, line {number}: expected "<image path> '
                    f'<integer label>", got {line.strip()!r}')
            labels.append(int(parts[1]))
    if not labels:
        raise ValueError(f'training split list {path} has no images')
    return torch.bincount(torch.tensor(labels)).tolist()


@METRICS.register_module()
class ShotAccuracy(BaseMetric):
    """Top-1 accuracy for long-tailed classification, split by shot group.

    A class belongs to ``many`` if its training count is ``> many_thr``,
    ``few`` if it is ``< few_thr`` and ``medium`` otherwise. Reported values
    are percentages:

    - ``overall``, ``many``, ``medium``, ``few``: class-averaged accuracy,
      the mean of per-class accuracies over the classes of the group that
      have evaluation samples (the number used in long-tailed papers).
    - ``overall_img``, ``many_img``, ``medium_img``, ``few_img``: correct
      predictions over evaluated images of the group.

    A group without evaluated classes is left out of the result (logged once
    per metric), never reported as 0 or NaN. After each evaluation the
    per-class accuracies (percent, ``None`` for classes without evaluation
    samples) are kept in ``self.per_class_accuracy``, and the result is
    logged as a table (:meth:`format_table`; ``tools/test.py`` prints it).

    Args:
        train_class_counts (Sequence[int], optional): Training images per
            class. Defaults to the counts of ``train_ann_file``, else to
            ``dataset_meta['train_class_counts']`` of the evaluated dataset
            (set by the evaluator), e.g. from ``DigitsLT``.
        train_ann_file (str, optional): The training split list, one
            ``path label`` line per image (ImageNet-LT, Places-LT layout);
            the training counts are counted from it.
        many_thr (int): Counts above it are many-shot. Defaults to 100.
        few_thr (int): Counts below it are few-shot. Defaults to 20.
        per_class_file (str, optional): If given, a CSV with columns
            ``class,train_count,shot,num_eval,accuracy`` is written there
            after each evaluation.
        collect_device (str): As in :class:`mmengine.evaluator.BaseMetric`.
        prefix (str, optional): Prefix of the keys; defaults to ``'shot'``.
    """
    default_prefix = 'shot'

    def __init__(self,
                 train_class_counts: Optional[Sequence[int]] = None,
                 train_ann_file: Optional[str] = None,
                 many_thr: int = 100,
                 few_thr: int = 20,
                 per_class_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if few_thr > many_thr:
            raise ValueError(f'ShotAccuracy needs few_thr <= many_thr, got '
                             f'few_thr={few_thr}, many_thr={many_thr}')
        if train_class_counts is not None and train_ann_file is not None:
            raise ValueError('ShotAccuracy takes train_class_counts or '
                             'train_ann_file, not both')
        if train_ann_file is not None:
            train_class_counts = counts_from_split_list(train_ann_file)
        if train_class_counts is not None:
            train_class_counts = self._check_counts(train_class_counts,
                                                    'train_class_counts')
        self.train_class_counts = train_class_counts
        self.many_thr = many_thr
        self.few_thr = few_thr
        self.per_class_file = per_class_file
        self.per_class_accuracy: Optional[List[Optional[float]]] = None
        self._reported_empty = set()

    @staticmethod
    def _check_counts(counts, source: str) -> List[int]:
        counts = [int(c) for c in counts]
        if not counts or min(counts) < 0:
            raise ValueError(f'ShotAccuracy: {source} must be a non-empty '
                             f'sequence of non-negative counts, got {counts}')
        return counts

    def _counts(self) -> List[int]:
        if self.train_class_counts is not None:
            return self.train_class_counts
        meta = self.dataset_meta or {}
        if 'train_class_counts' in meta:
            return self._check_counts(meta['train_class_counts'],
                                      "dataset_meta['train_class_counts']")
        raise ValueError(
            'ShotAccuracy needs the per-class training counts: pass '
            'train_class_counts=[...] to the metric, or evaluate a dataset '
            "whose metainfo has 'train_class_counts' (e.g. DigitsLT)")

    def shot_group(self, count: int) -> str:
        """Name of the shot group of a class with ``count`` training images.
        """
        if count > self.many_thr:
            return 'many'
        if count < self.few_thr:
            return 'few'
        return 'medium'

    @staticmethod
    def _single(label, name: str) -> torch.Tensor:
        label = torch.as_tensor(label).cpu().reshape(-1)
        if label.numel() != 1:
            raise ValueError(f'ShotAccuracy expects one {name} per sample '
                             f'(single-label), got {label.numel()}')
        return label

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            if 'gt_label' not in sample:
                raise ValueError('ShotAccuracy needs gt_label in each data '
                                 'sample')
            result = dict(gt_label=self._single(sample['gt_label'],
                                                'gt_label'))
            if 'pred_score' in sample:
                result['pred_score'] = sample['pred_score'].cpu().reshape(-1)
            elif 'pred_label' in sample:
                result['pred_label'] = self._single(sample['pred_label'],
                                                    'pred_label')
            else:
                raise ValueError('ShotAccuracy needs pred_score or '
                                 'pred_label in each data sample')
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> dict:
        if not results:
            raise ValueError('ShotAccuracy got no samples to evaluate')
        counts = self._counts()
        num_classes = len(counts)
        gt = torch.cat([r['gt_label'] for r in results]).long()
        if all('pred_score' in r for r in results):
            widths = {r['pred_score'].numel() for r in results}
            if widths != {num_classes}:
                raise ValueError(
                    f'ShotAccuracy: training counts cover {num_classes} '
                    f'classes but pred_score has width(s) {sorted(widths)}')
            pred = torch.stack([r['pred_score']
                                for r in results]).argmax(dim=1)
        elif any('pred_score' in r for r in results):
            raise ValueError('ShotAccuracy: samples mix pred_score and '
                             'pred_label; give all the same field')
        else:
            pred = torch.cat([r['pred_label'] for r in results]).long()
        for name, labels in (('gt_label', gt), ('pred_label', pred)):
            if labels.min() < 0 or labels.max() >= num_classes:
                raise ValueError(
                    f'ShotAccuracy: {name} values must lie in [0, '
                    f'{num_classes}) (one per training count), got '
                    f'[{int(labels.min())}, {int(labels.max())}]')

        total = torch.bincount(gt, minlength=num_classes)
        correct = torch.bincount(gt[pred == gt], minlength=num_classes)
        per_class = [
            100.0 * int(c) / int(t) if t > 0 else None
            for c, t in zip(correct, total)
        ]
        self.per_class_accuracy = per_class
        groups = [self.shot_group(c) for c in counts]

        metrics = {}
        for name in ('overall', ) + GROUPS:
            members = [
                i for i in range(num_classes)
                if total[i] > 0 and name in ('overall', groups[i])
            ]
            if not members:
                if name not in self._reported_empty:
                    self._reported_empty.add(name)
                    print_log(
                        f'ShotAccuracy: the {name}-shot group has no class '
                        'with evaluation samples; its accuracy is not '
                        'reported', logger='current', level=logging.WARNING)
                continue
            metrics[name] = sum(per_class[i] for i in members) / len(members)
            metrics[f'{name}_img'] = 100.0 * int(
                correct[members].sum()) / int(total[members].sum())

        if self.per_class_file:
            self._write_csv(counts, groups, total, per_class)
        evaluated = {
            name: sum(1 for i in range(num_classes) if total[i] > 0 and
                      name in ('overall', groups[i]))
            for name in ('overall', ) + GROUPS
        }
        print_log(self.format_table(metrics, evaluated), logger='current')
        return metrics

    def format_table(self, metrics: dict, evaluated: dict) -> str:
        """The result as a text table (printed after each evaluation, so
        ``tools/test.py`` shows it); groups without evaluated classes read
        ``absent``."""
        names = ('overall', ) + GROUPS
        # Column heads name the thresholds; 'mid' is the medium group.
        heads = ('overall', f'many (>{self.many_thr})',
                 f'mid ({self.few_thr}-{self.many_thr})',
                 f'few (<{self.few_thr})')
        rows = [['top-1 %', *heads],
                ['classes', *(str(evaluated[n]) for n in names)]]
        for label, suffix in (('class-avg acc', ''),
                              ('image-avg acc', '_img')):
            rows.append([label] + [
                f'{metrics[n + suffix]:.2f}' if n + suffix in metrics else
                'absent' for n in names
            ])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
        lines = [rule]
        for k, row in enumerate(rows):
            lines.append('| ' + ' | '.join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths))) + ' |')
            if k == 0:
                lines.append(rule)
        lines.append(rule)
        return ('ShotAccuracy by training images per class:\n' +
                '\n'.join(lines))

    def _write_csv(self, counts, groups, total, per_class):
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None or len(classes) != len(counts):
            classes = [str(i) for i in range(len(counts))]
        folder = osp.dirname(self.per_class_file)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(self.per_class_file, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(
                ['class', 'train_count', 'shot', 'num_eval', 'accuracy'])
            for i, name in enumerate(classes):
                acc = '' if per_class[i] is None else f'{per_class[i]:.4f}'
                writer.writerow(
                    [name, counts[i], groups[i],
                     int(total[i]), acc])
