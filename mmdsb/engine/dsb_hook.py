"""The dynamic re-weighting training framework (paper Sec. 4.2, App. F.2)."""
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, TASK_UTILS
from mmengine.runner import IterBasedTrainLoop

from ..dataset_checks import describe_dataset
from .consumer import DSBConsumer
from .epoch_padding import (batch_size_of, index_sampler, pads_epochs,
                            padding_masks)
from .weighter import SemanticScaleWeighter

__all__ = ['DSBHook']

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class DSBHook(Hook):
    """Runs the three stages of DSB training and keeps the feature banks.

    1. Until the bank is first full (epoch 1): every batch's pre-logit
       features enter the bank; nothing leaves it; the original loss.
    2. Then, until ``warmup_epochs`` (or ``warmup_iters``) have passed:
       each batch enters, as many of the oldest samples leave; original
       loss.
    3. Later: the same, then the semantic scales of the updated bank
       re-weight the loss of the current batch.

    The stages follow the bank's fill state, so re-weighting never starts
    from a pool that was not filled once: a bank below capacity only grows,
    and a resumed run whose checkpoint has no bank fills it again (the log
    says so, and says when each stage starts).

    The capacity is one epoch of distinct samples, ``len(dataset)``: the
    repeats a sampler adds to reach a multiple of the world size, or the
    repeats of repeated-augmentation samplers, do not count, so a run can
    resume on another number of processes. Padded repeats of mmengine's
    DefaultSampler and mmpretrain's RepeatAugSampler are also kept out of
    the bank, under any batch sampler (e.g. mmdet's
    AspectRatioBatchSampler), so that after every epoch it holds each
    sample once. A
    consumer may define the capacity itself
    (:meth:`DSBConsumer.dsb_samples_per_epoch`, e.g. ground-truth instances
    in detection), and ``capacity`` overrides both.

    Every DSB consumer in the model (e.g. each stage of a cascade head) gets
    its own weighter, an independent copy of ``weighter`` with its own bank
    and capacity. Under ``IterBasedTrainLoop`` an "epoch" is
    ``ceil(len(dataset) / global batch size)`` iterations (the batch size
    is the loader's, else its batch sampler's), and
    ``warmup_iters`` may replace ``warmup_epochs``. The banks' statistics are
    re-derived from the pool at the start of every epoch (every
    ``refresh_interval`` iterations when iteration-based), which removes
    rounding drift and makes a resumed run continue exactly. The pools are
    saved in checkpoints: under ``'dsb_bank'`` for a single consumer, under
    ``'dsb_banks'`` (by module name) for several.

    Features gathered from all ranks enter the bank in rank order, so runs
    on different numbers of processes hold the same samples, in the same
    order up to the order of the entries of one iteration.

    Args:
        weighter: config of (or a) :class:`SemanticScaleWeighter`.
        warmup_epochs: ``n``; re-weighting starts at epoch ``n + 1``.
        warmup_iters: iteration-based replacement of ``warmup_epochs``.
        reweight: ``False`` keeps the bank and logs the semantic scales
            without re-weighting (the plain twin of a DSB run).
        num_classes: number of classes; taken from the DSB heads if unset.
        capacity: size of every bank; one epoch of samples if unset.
        refresh_interval: iterations between exact re-derivations of the
            bank's statistics in iteration-based training.
        num_weakest: how many of the weakest classes the summary names.
    """

    priority = 'NORMAL'

    def __init__(self,
                 weighter: Union[dict, SemanticScaleWeighter] = dict(
                     type='SemanticScaleWeighter'),
                 warmup_epochs: int = 5,
                 warmup_iters: Optional[int] = None,
                 reweight: bool = True,
                 num_classes: Optional[int] = None,
                 capacity: Optional[int] = None,
                 refresh_interval: Optional[int] = None,
                 num_weakest: int = 5):
        for name, value in (('warmup_epochs', warmup_epochs),
                            ('warmup_iters', warmup_iters),
                            ('num_classes', num_classes),
                            ('capacity', capacity),
                            ('refresh_interval', refresh_interval)):
            if value is not None and (int(value) != value or value < 1):
                raise ValueError(
                    f'{name} must be an integer >= 1, got {value}')
        if isinstance(weighter, dict):
            weighter = TASK_UTILS.build(weighter)
        if not isinstance(weighter, SemanticScaleWeighter):
            raise TypeError('weighter must be a SemanticScaleWeighter, got '
                            f'{type(weighter).__name__}')
        # The first consumer's weighter; the others get fresh copies.
        self.weighter = weighter
        self.weighters: Dict[str, SemanticScaleWeighter] = {}
        self.warmup_epochs, self.warmup_iters = warmup_epochs, warmup_iters
        self.reweight = reweight
        self.num_classes, self.capacity = num_classes, capacity
        self.refresh_interval = refresh_interval
        self.num_weakest = num_weakest
        self._checkpoint: Optional[dict] = None
        self._stages: Dict[str, int] = {}
        self._last_tables: Dict[str, dict] = {}

    # ----------------------------------------------------------- set up
    @staticmethod
    def _consumers(runner) -> Dict[str, DSBConsumer]:
        """The DSB consumers of the model by module name."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return {
            name or type(m).__name__: m
            for name, m in model.named_modules() if isinstance(m, DSBConsumer)
        }

    @classmethod
    def _dsb_heads(cls, runner) -> List[DSBConsumer]:
        return list(cls._consumers(runner).values())

    @staticmethod
    def _distinct_samples(runner) -> int:
        """Distinct samples in one epoch: the training set's length."""
        dataset = runner.train_dataloader.dataset
        n = len(dataset)
        if n == 0:
            raise ValueError(
                f'the training set ({describe_dataset(dataset)}) is empty: '
                'check data_root, ann_file, filter_cfg and indices of '
                'train_dataloader.dataset; DSB needs at least one sample')
        return n

    def _bank_capacity(self,
                       runner,
                       consumer: Optional[DSBConsumer] = None) -> int:
        """Configured capacity, else what the consumer (by default: the
        first that answers) says one epoch gives, else the distinct
        samples of one epoch."""
        if self.capacity is not None:
            return int(self.capacity)
        dataset = runner.train_dataloader.dataset
        heads = [consumer] if consumer is not None else self._dsb_heads(
            runner)
        for head in heads:
            per_epoch = head.dsb_samples_per_epoch(dataset)
            if per_epoch is not None:
                if int(per_epoch) < 1:
                    raise ValueError(
                        f'{type(head).__name__} finds {per_epoch} bank '
                        'entries in one epoch of the training set; DSB '
                        'needs at least one (or set capacity in DSBHook)')
                return int(per_epoch)
        return self._distinct_samples(runner)

    def before_train(self, runner) -> None:
        consumers = self._consumers(runner)
        if not consumers:
            raise RuntimeError(
                'DSBHook found no DSB head in the model: use a DSB head, '
                "e.g. head=dict(type='DSBLinearClsHead', ...)")
        n_distinct = self._distinct_samples(runner)
        self.weighters = {}
        for i, (name, head) in enumerate(consumers.items()):
            num_classes = head.dsb_num_classes()
            if num_classes is None:
                num_classes = self.num_classes
            elif (self.num_classes is not None
                  and num_classes != self.num_classes):
                raise ValueError(
                    f'DSBHook has num_classes={self.num_classes} but '
                    f'{type(head).__name__} ({name}) has '
                    f'num_classes={num_classes}')
            if num_classes is None:
                raise ValueError(
                    f'{type(head).__name__} ({name}) has no num_classes '
                    'attribute: set num_classes in DSBHook')
            weighter = self.weighter if i == 0 else \
                self.weighter.fresh_copy()
            capacity = self._bank_capacity(runner, head)
            device = next(iter(head.parameters()), torch.empty(0)).device
            weighter.init_bank(capacity, num_classes, device)
            head.dsb_weighter = weighter
            self.weighters[name] = weighter
            runner.logger.info(
                f'DSB [{name}]: bank of {capacity} samples x '
                f'{weighter.bank_dim} dims for {num_classes} classes on '
                f'{device}, {weighter.bank.nbytes() / 2**20:.3g} MiB')
        if self._checkpoint is not None:
            self._restore(runner)

        loader = runner.train_dataloader
        self.by_epoch = not isinstance(runner.train_loop, IterBasedTrainLoop)
        self._world, self._rank = runner.world_size, runner.rank
        self._n_distinct = n_distinct
        sampler = index_sampler(loader)
        self._pads = (pads_epochs(sampler)
                      and len(sampler) * self._world > n_distinct)
        self._masks, self._masks_pass = None, None
        self._loader_len = len(loader)
        batch_size = batch_size_of(loader)
        if batch_size is None:
            # A batch sampler that does not say its batch size: one epoch
            # is the batches it yields on this rank.
            self.iters_per_epoch = self._loader_len
            sampler_name = type(loader.batch_sampler).__name__
            runner.logger.info(
                f'DSB: the batch size is unknown ({sampler_name}); one '
                f'epoch is the {self._loader_len} batches of the training '
                'loader')
        else:
            self.iters_per_epoch = math.ceil(n_distinct /
                                             (batch_size * self._world))
        self._warmup_iters = self.warmup_iters or (
            self.warmup_epochs * self.iters_per_epoch)
        self._refresh_every = self.refresh_interval or self.iters_per_epoch
        runner.logger.info(
            'DSB: stage 1 fills the banks; re-weighting starts when a bank '
            'is full and ' +
            (f'from epoch {self.warmup_epochs + 1}' if self.by_epoch else
             f'from iteration {self._warmup_iters + 1}') +
            ('' if self.reweight else
             ' is off (scales are only measured)'))

    def _restore(self, runner) -> None:
        """Load the checkpoint's pools; a consumer without one refills."""
        checkpoint, self._checkpoint = self._checkpoint, None
        banks = checkpoint.get('dsb_banks')
        if banks is None and 'dsb_bank' in checkpoint:
            if len(self.weighters) == 1:
                banks = {next(iter(self.weighters)): checkpoint['dsb_bank']}
            else:
                runner.logger.warning(
                    "DSB: the checkpoint holds one feature bank ('dsb_bank') "
                    f'but the model has {len(self.weighters)} DSB consumers; '
                    'which one it belongs to is unknown')
        for name, weighter in self.weighters.items():
            state = (banks or {}).get(name)
            if state is None:
                runner.logger.warning(
                    f'DSB [{name}]: the checkpoint has no feature bank '
                    '(saved by a run without DSB, or before DSB was added); '
                    'the bank fills again (stage 1) before re-weighting')
                continue
            weighter.load_state_dict(state)
            runner.logger.info(
                f'DSB [{name}]: restored {len(weighter.bank)} samples of '
                'the feature bank from the checkpoint')

    # ----------------------------------------------------------- stages
    def _stage_of(self, runner, weighter: SemanticScaleWeighter) -> int:
        if not weighter.bank.is_full:
            return 1
        if self.by_epoch:
            warm = runner.epoch + 1 > self.warmup_epochs
        else:
            warm = runner.iter >= self._warmup_iters
        return 3 if warm and self.reweight else 2

    def _kept_rows(self, runner, batch_idx: int) -> Optional[List[bool]]:
        """Which rows of this rank's batch are not the sampler's padding
        (``None``: all of them)."""
        if not self._pads:
            return None
        if self.by_epoch:
            pass_idx, step = runner.epoch, batch_idx
        else:
            pass_idx, step = divmod(runner.iter, self._loader_len)
        if pass_idx != self._masks_pass:
            # The loader's pass has begun, so its sampler has this pass's
            # epoch.
            self._masks = padding_masks(runner.train_dataloader,
                                        self._n_distinct, self._world,
                                        self._rank)
            self._masks_pass = pass_idx
        if self._masks is None or step >= len(self._masks):
            return None
        return self._masks[step]

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            for weighter in self.weighters.values():
                if len(weighter.bank):
                    weighter.bank.refresh()

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        refresh = (not self.by_epoch and runner.iter > 0
                   and runner.iter % self._refresh_every == 0)
        kept = self._kept_rows(runner, batch_idx)
        for name, weighter in self.weighters.items():
            if refresh:
                weighter.bank.refresh()
            weighter.kept_rows = kept
            stage = self._stage_of(runner, weighter)
            if stage != self._stages.get(name):
                self._log_stage(runner, name, weighter, stage)
                self._stages[name] = stage
            weighter.stage = stage

    def _log_stage(self, runner, name: str, weighter, stage: int) -> None:
        where = (f'epoch {runner.epoch + 1}, ' if self.by_epoch else
                 '') + f'iteration {runner.iter + 1}'
        bank = weighter.bank
        what = {
            1: f'the bank fills ({len(bank)} of {bank.capacity} samples)',
            2: f'the bank is full ({bank.capacity} samples); each batch '
            'replaces as many of the oldest',
            3: 'the bank is full; its semantic scales re-weight the loss',
        }[stage]
        runner.logger.info(
            f'DSB [{name}]: stage {stage} starts at {where}: {what}')

    # ---------------------------------------------------------- logging
    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._log_summary(runner, step=runner.epoch)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.by_epoch and (runner.iter + 1) % self.iters_per_epoch == 0:
            self._log_summary(runner, step=runner.iter + 1)

    def scale_table(self, name: Optional[str] = None) -> Dict[str, list]:
        """Per class of one consumer (default: the first): samples in the
        bank, volume, S', S and DSB weight."""
        weighter = self.weighters[name] if name else self.weighter
        volumes = weighter.bank.volumes()
        valid = weighter.usable_volumes()
        norm = torch.where(valid, volumes / volumes[valid].max(),
                           0.) if valid.any() else torch.zeros_like(volumes)
        scales = weighter.semantic_scales()
        weights = weighter.class_weights(scales, record=False)
        return dict(
            count=weighter.bank.counts.long().tolist(),
            volume=volumes.tolist(),
            scale_prime=norm.tolist(),
            scale=scales.tolist(),
            weight=weights.tolist())

    @staticmethod
    def _class_names(runner, num_classes: int) -> List[str]:
        """The dataset's class names, numbered where it names fewer
        classes than the head has."""
        names = list(runner.train_dataloader.dataset.metainfo.get('classes')
                     or [])[:num_classes]
        return names + [str(i) for i in range(len(names), num_classes)]

    def _log_summary(self, runner, step: int) -> None:
        for name, weighter in self.weighters.items():
            self._log_warning_counts(runner, name, weighter)
            if len(weighter.bank):
                self._log_scales(runner, name, weighter, step)

    def _log_warning_counts(self, runner, name: str, weighter) -> None:
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
            where = (f'epoch {runner.epoch + 1}'
                     if self.by_epoch else f'iteration {runner.iter + 1}')
            runner.logger.warning(f'DSB [{name}] since the last summary: ' +
                                  '; '.join(parts) + f' (until {where})')

    def _log_scales(self, runner, name: str, weighter, step: int) -> None:
        table = self.scale_table(name)
        scales = torch.tensor(table['scale'])
        weights = torch.tensor(table['weight'])
        weakest = torch.argsort(scales)[:self.num_weakest].tolist()
        names = self._class_names(runner, len(scales))
        runner.logger.info(
            'DSB [{}] semantic scale S: min {:.4f} median {:.4f} max {:.4f}; '
            'weight: min {:.4f} median {:.4f} max {:.4f}; weakest: {}'.format(
                name, scales.min(), scales.median(), scales.max(),
                weights.min(), weights.median(), weights.max(),
                ', '.join(f'{names[c]} (S={scales[c]:.4f})'
                          for c in weakest)))
        prefix = 'dsb' if len(self.weighters) == 1 else f'dsb/{name}'
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

    def after_train(self, runner) -> None:
        for name, table in self._last_tables.items():
            file = ('dsb_semantic_scales.json' if len(self.weighters) == 1
                    else f'dsb_semantic_scales_{name}.json')
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

    # ------------------------------------------------------- checkpoint
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.weighters:
            return
        if len(self.weighters) == 1:
            checkpoint['dsb_bank'] = self.weighter.state_dict()
        else:
            checkpoint['dsb_banks'] = {
                name: w.state_dict()
                for name, w in self.weighters.items()
            }

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only a resumed run continues with the saved pools; ``load_from``
        # alone (fine-tuning) starts new ones.
        if not runner._resume:
            return
        self._checkpoint = {
            key: checkpoint[key]
            for key in ('dsb_bank', 'dsb_banks') if key in checkpoint
        }
        if self.weighters:
            self._restore(runner)
