"""What DSBHook tells the user: log lines, visualizer scalars and the
per-class table of semantic scales."""
import json
import os.path as osp
from typing import Dict, List

import torch
from mmengine.dist import is_main_process

from .weighter import SemanticScaleWeighter

__all__ = ['DSBReporter', 'scale_table']


def scale_table(weighter: SemanticScaleWeighter) -> Dict[str, list]:
    """Per class: samples in the bank, volume, S', S and DSB weight."""
    bank = weighter.bank
    scales = weighter.semantic_scales()
    return dict(
        count=bank.counts.long().tolist(),
        volume=bank.volumes().tolist(),
        scale_prime=weighter.measure.normalised_volumes(bank).tolist(),
        scale=scales.tolist(),
        weight=weighter.class_weights(scales, record=False).tolist())


def class_names(runner, num_classes: int) -> List[str]:
    """The dataset's class names, numbered where it names fewer classes
    than the head has."""
    names = list(runner.train_dataloader.dataset.metainfo.get('classes')
                 or [])[:num_classes]
    return names + [str(i) for i in range(len(names), num_classes)]


class DSBReporter:
    """Reports the banks of DSBHook's consumers once per summary and at
    the end of training.

    Args:
        num_weakest: how many of the weakest classes a summary names.
    """

    def __init__(self, num_weakest: int = 5):
        self.num_weakest = num_weakest
        self._last_tables: Dict[str, dict] = {}

    def summary(self, runner, weighters: Dict[str, SemanticScaleWeighter],
                step: int, where: str) -> None:
        """Warning counts since the last summary, then the scales of
        every bank that holds samples. ``where`` names the place (e.g.
        'epoch 3')."""
        for name, weighter in weighters.items():
            self._warning_counts(runner, name, weighter, where)
            if len(weighter.bank):
                prefix = 'dsb' if len(weighters) == 1 else f'dsb/{name}'
                self._scales(runner, name, weighter, step, prefix)

    def _warning_counts(self, runner, name: str,
                        weighter: SemanticScaleWeighter, where: str) -> None:
        counts = weighter.pop_warning_counts()
        parts = []
        if counts['nonfinite_batches']:
            parts.append(
                f"{counts['nonfinite_batches']} batches had "
                f"{counts['nonfinite_features']} NaN or inf features, "
                'kept out of the bank')
        if counts['fallback_weights']:
            parts.append(
                f"{counts['fallback_weights']} re-weighted iterations had "
                'classes without a usable semantic scale (given the '
                'largest weight)')
        if counts['capped_weights']:
            parts.append(
                f"{counts['capped_weights']} re-weighted iterations had "
                'weights capped at max_weight_ratio='
                f'{weighter.max_weight_ratio:g} times the smallest')
        if parts:
            # The place makes each summary distinct: mmengine's logger drops
            # a warning that repeats an earlier one word for word.
            runner.logger.warning(f'DSB [{name}] since the last summary: ' +
                                  '; '.join(parts) + f' (until {where})')

    def _scales(self, runner, name: str, weighter: SemanticScaleWeighter,
                step: int, prefix: str) -> None:
        table = scale_table(weighter)
        scales = torch.tensor(table['scale'])
        weights = torch.tensor(table['weight'])
        weakest = torch.argsort(scales)[:self.num_weakest].tolist()
        names = class_names(runner, len(scales))
        runner.logger.info(
            'DSB [{}] semantic scale S: min {:.4f} median {:.4f} max {:.4f}; '
            'weight: min {:.4f} median {:.4f} max {:.4f}; weakest: {}'.format(
                name, scales.min(), scales.median(), scales.max(),
                weights.min(), weights.median(), weights.max(),
                ', '.join(f'{names[c]} (S={scales[c]:.4f})'
                          for c in weakest)))
        runner.visualizer.add_scalars(
            {
                f'{prefix}/scale_min': float(scales.min()),
                f'{prefix}/scale_median': float(scales.median()),
                f'{prefix}/scale_max': float(scales.max()),
                f'{prefix}/weight_min': float(weights.min()),
                f'{prefix}/weight_median': float(weights.median()),
                f'{prefix}/weight_max': float(weights.max()),
            },
            step=step)
        self._last_tables[name] = dict(table, classes=names)

    def final(self, runner, single: bool) -> None:
        """Write the last per-class table of every bank to the log
        directory and log it: ``dsb_semantic_scales.json`` for a
        ``single`` consumer, ``dsb_semantic_scales_<name>.json`` each."""
        for name, table in self._last_tables.items():
            file = ('dsb_semantic_scales.json'
                    if single else f'dsb_semantic_scales_{name}.json')
            if is_main_process():
                with open(osp.join(runner.log_dir, file), 'w') as f:
                    json.dump(table, f, indent=1)
            rows = [
                f'{cls:>12} {n:>7} {sp:>8.4f} {s:>8.4f} {w:>8.4f}'
                for cls, n, sp, s, w in zip(
                    table['classes'], table['count'], table['scale_prime'],
                    table['scale'], table['weight'])
            ]
            shown = rows if len(rows) <= 50 else rows[:50] + ['...']
            runner.logger.info(
                f'DSB [{name}] per-class semantic scales (full table in '
                f'{file}):\n'
                f"{'class':>12} {'in bank':>7} {'S_prime':>8} {'S':>8} "
                f"{'weight':>8}\n" + '\n'.join(shown))
