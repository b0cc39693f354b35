"""The dynamic re-weighting training framework (paper Sec. 4.2, App. F.2)."""
import json
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, TASK_UTILS
from mmengine.runner import IterBasedTrainLoop

from .consumer import DSBConsumer
from .weighter import SemanticScaleWeighter

__all__ = ['DSBHook']

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class DSBHook(Hook):
    """Runs the three stages of DSB training and keeps the feature bank.

    1. Epoch 1: every batch's pre-logit features enter the bank; nothing
       leaves it; the original loss is used.
    2. Epochs 2 to ``warmup_epochs``: each batch enters, as many of the
       oldest samples leave; original loss.
    3. Later epochs: the same, then the semantic scales of the updated bank
       re-weight the loss of the current batch.

    The bank holds one epoch of samples over all ranks (the sampler's total
    size, else the dataset's length). Under ``IterBasedTrainLoop`` an
    "epoch" is ``ceil(capacity / global batch size)`` iterations, and
    ``warmup_iters`` may replace ``warmup_epochs``. The bank's statistics are
    re-derived from the pool at the start of every epoch (every
    ``refresh_interval`` iterations when iteration-based), which removes
    rounding drift and makes a resumed run continue exactly; the pool is
    saved in checkpoints under ``'dsb_bank'``.

    Args:
        weighter: config of (or a) :class:`SemanticScaleWeighter`.
        warmup_epochs: ``n``; re-weighting starts at epoch ``n + 1``.
        warmup_iters: iteration-based replacement of ``warmup_epochs``.
        reweight: ``False`` keeps the bank and logs the semantic scales
            without re-weighting (the plain twin of a DSB run).
        num_classes: number of classes; taken from the DSB heads if unset.
        capacity: size of the bank; one epoch of samples if unset.
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
        self.weighter = weighter
        self.warmup_epochs, self.warmup_iters = warmup_epochs, warmup_iters
        self.reweight = reweight
        self.num_classes, self.capacity = num_classes, capacity
        self.refresh_interval = refresh_interval
        self.num_weakest = num_weakest
        self._saved_bank: Optional[Dict] = None
        self._stage = 0

    # ----------------------------------------------------------- set up
    @staticmethod
    def _dsb_heads(runner) -> List[DSBConsumer]:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return [m for m in model.modules() if isinstance(m, DSBConsumer)]

    def _bank_capacity(self, runner) -> int:
        if self.capacity is not None:
            return int(self.capacity)
        loader = runner.train_dataloader
        for head in self._dsb_heads(runner):
            per_epoch = head.dsb_samples_per_epoch(loader.dataset)
            if per_epoch is not None:
                return int(per_epoch)
        total = getattr(loader.sampler, 'total_size', None)
        return int(total) if total else len(loader.dataset)

    def before_train(self, runner) -> None:
        heads = self._dsb_heads(runner)
        if not heads:
            raise RuntimeError(
                'DSBHook found no DSB head in the model: use a DSB head, '
                "e.g. head=dict(type='DSBLinearClsHead', ...)")
        num_classes = self.num_classes
        for head in heads:
            head_classes = head.dsb_num_classes()
            if num_classes is None:
                num_classes = head_classes
            elif head_classes is not None and head_classes != num_classes:
                raise ValueError(
                    f'DSBHook has num_classes={num_classes} but '
                    f'{type(head).__name__} has num_classes={head_classes}')
        if num_classes is None:
            raise ValueError('the DSB head has no num_classes attribute: set '
                             'num_classes in DSBHook')
        capacity = self._bank_capacity(runner)
        device = next(iter(heads[0].parameters()), torch.empty(0)).device
        self.weighter.init_bank(capacity, num_classes, device)
        if self._saved_bank is not None:
            self.weighter.load_state_dict(self._saved_bank)
            self._saved_bank = None
            runner.logger.info(
                f'DSB: restored {len(self.weighter.bank)} samples of the '
                'feature bank from the checkpoint')
        for head in heads:
            head.dsb_weighter = self.weighter

        self.by_epoch = not isinstance(runner.train_loop, IterBasedTrainLoop)
        world = runner.world_size
        global_batch = runner.train_dataloader.batch_size * world
        self.iters_per_epoch = -(-capacity // global_batch)
        warmup_iters = self.warmup_iters or (
            self.warmup_epochs * self.iters_per_epoch)
        if not self.by_epoch and warmup_iters < self.iters_per_epoch:
            raise ValueError(
                f'warmup_iters={warmup_iters} is shorter than one epoch of '
                f'samples ({self.iters_per_epoch} iterations): the bank '
                'would re-weight before it holds every sample once')
        self._warmup_iters = warmup_iters
        self._refresh_every = self.refresh_interval or self.iters_per_epoch
        runner.logger.info(
            f'DSB: bank of {capacity} samples x {self.weighter.bank_dim} '
            f'dims for {num_classes} classes on {device}; re-weighting '
            + (f'from epoch {self.warmup_epochs + 1}' if self.by_epoch else
               f'from iteration {warmup_iters + 1}') +
            ('' if self.reweight else ' is off (scales are only measured)'))

    # ----------------------------------------------------------- stages
    def _stage_of(self, runner) -> int:
        if self.by_epoch:
            epoch = runner.epoch + 1  # 1-based epoch being trained
            first = epoch == 1
            reweight = epoch > self.warmup_epochs
        else:
            first = runner.iter < self.iters_per_epoch
            reweight = runner.iter >= self._warmup_iters
        if first:
            return 1
        return 3 if reweight and self.reweight else 2

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch and len(self.weighter.bank):
            self.weighter.bank.refresh()

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        if (not self.by_epoch and runner.iter > 0
                and runner.iter % self._refresh_every == 0):
            self.weighter.bank.refresh()
        stage = self._stage_of(runner)
        if stage != self._stage:
            runner.logger.info(f'DSB: stage {stage} starts')
            self._stage = stage
        self.weighter.stage = stage

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

    def scale_table(self) -> Dict[str, list]:
        """Per class: samples in the bank, volume, S', S and DSB weight."""
        weighter = self.weighter
        volumes = weighter.bank.volumes()
        valid = volumes > 0
        norm = volumes / volumes[valid].max() if valid.any() else volumes
        scales = weighter.semantic_scales()
        weights = weighter.class_weights(scales)
        return dict(
            count=weighter.bank.counts.long().tolist(),
            volume=volumes.tolist(),
            scale_prime=norm.tolist(),
            scale=scales.tolist(),
            weight=weights.tolist())

    def _log_summary(self, runner, step: int) -> None:
        if not len(self.weighter.bank):
            return
        table = self.scale_table()
        scales = torch.tensor(table['scale'])
        weights = torch.tensor(table['weight'])
        weakest = torch.argsort(scales)[:self.num_weakest].tolist()
        names = (runner.train_dataloader.dataset.metainfo.get('classes')
                 or [str(i) for i in range(len(scales))])
        runner.logger.info(
            'DSB semantic scale S: min {:.4f} median {:.4f} max {:.4f}; '
            'weight: min {:.4f} median {:.4f} max {:.4f}; weakest: {}'.format(
                scales.min(), scales.median(), scales.max(), weights.min(),
                weights.median(), weights.max(), ', '.join(
                    f'{names[c]} (S={scales[c]:.4f})' for c in weakest)))
        runner.visualizer.add_scalars(
            {
                'dsb/scale_min': float(scales.min()),
                'dsb/scale_median': float(scales.median()),
                'dsb/scale_max': float(scales.max()),
                'dsb/weight_min': float(weights.min()),
                'dsb/weight_median': float(weights.median()),
                'dsb/weight_max': float(weights.max()),
            },
            step=step)
        self._last_table = dict(table, classes=list(names))

    def after_train(self, runner) -> None:
        table = getattr(self, '_last_table', None)
        if table is None:
            return
        if is_main_process():
            path = osp.join(runner.log_dir, 'dsb_semantic_scales.json')
            with open(path, 'w') as f:
                json.dump(table, f, indent=1)
        rows = [
            f"{name:>12} {n:>7} {sp:>8.4f} {s:>8.4f} {w:>8.4f}"
            for name, n, sp, s, w in zip(table['classes'], table['count'],
                                         table['scale_prime'], table['scale'],
                                         table['weight'])
        ]
        shown = rows if len(rows) <= 50 else rows[:50] + ['...']
        runner.logger.info(
            'DSB per-class semantic scales (full table in '
            'dsb_semantic_scales.json):\n'
            f"{'class':>12} {'in bank':>7} {'S_prime':>8} {'S':>8} "
            f"{'weight':>8}\n" + '\n'.join(shown))

    # ------------------------------------------------------- checkpoint
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.weighter.bank is not None:
            checkpoint['dsb_bank'] = self.weighter.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only a resumed run continues with the saved pool; ``load_from``
        # alone (fine-tuning) starts a new one.
        if 'dsb_bank' not in checkpoint or not runner._resume:
            return
        if self.weighter.bank is not None:
            self.weighter.load_state_dict(checkpoint['dsb_bank'])
        else:
            self._saved_bank = checkpoint['dsb_bank']
