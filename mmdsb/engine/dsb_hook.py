"""The dynamic re-weighting training framework (paper Sec. 4.2, App. F.2)."""
from typing import Dict, Optional, Union

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS, TASK_UTILS
from mmengine.runner import IterBasedTrainLoop

from ..guards import positive_int
from .dsb_banks import (POLICY_NAMES, bank_capacity, consumer_device,
                        consumer_num_classes, distinct_samples,
                        find_consumers, restore_banks)
from .dsb_reporter import DSBReporter, scale_table
from .epoch_padding import LoaderEpochs
from .sample_keys import SampleKeys
from .stages import DSBStage
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

    ``bank_policy='per_sample'`` replaces the FIFO queue by a bank with one
    slot per sample (:class:`~mmdsb.sample_bank.SampleBank`; detection: one
    per ground-truth instance), where each sample's latest feature
    replaces its previous one. After the first epoch it holds every sample
    seen exactly once, whatever the sampler, its padding or the number of
    processes, instead of a one-epoch window that holds a sample 0, 1 or 2
    times. Its keys come from the data samples (``sample_idx``, and
    ``img_id`` in detection) and travel with the features between ranks.
    It counts as filled after one pass over the training loader (what the
    sampler yields in one epoch); samples still without a
    feature then (filtered out, or never matched by a detector's
    assigner) are logged once, by count, and stay out of the scales until
    they have one.

    Args:
        weighter: config of (or a) :class:`SemanticScaleWeighter`.
        warmup_epochs: ``n``; re-weighting starts at epoch ``n + 1``.
        warmup_iters: iteration-based replacement of ``warmup_epochs``.
        reweight: ``False`` keeps the bank and logs the semantic scales
            without re-weighting (the plain twin of a DSB run).
        num_classes: number of classes; taken from the DSB heads if unset.
        capacity: size of every FIFO bank; one epoch of samples if unset.
        bank_policy: ``'fifo'`` (the paper's queue of one epoch) or
            ``'per_sample'`` (the latest feature of every sample).
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
                 num_weakest: int = 5,
                 bank_policy: str = 'fifo'):
        for name, value in (('warmup_epochs', warmup_epochs),
                            ('warmup_iters', warmup_iters),
                            ('num_classes', num_classes),
                            ('capacity', capacity),
                            ('refresh_interval', refresh_interval),
                            ('num_weakest', num_weakest)):
            if value is not None:
                positive_int(value, name, 'DSBHook')
        if bank_policy not in POLICY_NAMES.values():
            raise ValueError(f"bank_policy must be 'fifo' or 'per_sample', "
                             f'got {bank_policy!r}')
        if bank_policy == 'per_sample' and capacity is not None:
            raise ValueError(
                "capacity sizes a FIFO bank; bank_policy='per_sample' has "
                'one slot per sample of the training set')
        self.per_sample = bank_policy == 'per_sample'
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
        self.reporter = DSBReporter(num_weakest)
        self._checkpoint: Optional[dict] = None
        self._stages: Dict[str, DSBStage] = {}
        self._keys: Dict[str, SampleKeys] = {}

    # ----------------------------------------------------------- set up
    def before_train(self, runner) -> None:
        consumers = find_consumers(runner.model)
        dataset = runner.train_dataloader.dataset
        n_distinct = distinct_samples(dataset)
        self.weighters, self._keys = {}, {}
        for i, (name, head) in enumerate(consumers.items()):
            weighter = self.weighter if i == 0 else \
                self.weighter.fresh_copy()
            num_classes = consumer_num_classes(name, head, self.num_classes)
            device = consumer_device(head)
            if self.per_sample:
                self._keys[name] = head.dsb_sample_keys(dataset)
                size = self._keys[name].num_samples
                weighter.init_sample_bank(size, num_classes, device)
            else:
                size = self.capacity or bank_capacity(head, dataset)
                weighter.init_bank(size, num_classes, device)
            head.dsb_weighter = weighter
            self.weighters[name] = weighter
            runner.logger.info(
                f'DSB [{name}]: ' +
                ('per-sample bank of ' if self.per_sample else 'bank of ') +
                f'{size} samples x {weighter.bank_dim} dims for '
                f'{num_classes} classes on {device}, '
                f'{weighter.bank.nbytes() / 2**20:.3g} MiB')
        # Only a resumed run continues with the saved pools; one that only
        # loads weights (load_from without resume: fine-tuning) starts new
        # ones. Its loop starts at iteration 0, not at the checkpoint's.
        checkpoint, self._checkpoint = self._checkpoint, None
        if checkpoint is not None and checkpoint['iter'] == runner.iter:
            restore_banks(self.weighters, checkpoint, runner.logger)

        self.by_epoch = not isinstance(runner.train_loop, IterBasedTrainLoop)
        self.epochs = LoaderEpochs(runner.train_dataloader, n_distinct,
                                   runner.world_size, runner.rank)
        self.iters_per_epoch = self.epochs.iters_per_epoch
        if not self.epochs.batch_size_known:
            runner.logger.info(
                'DSB: the batch size is unknown '
                f'({type(runner.train_dataloader.batch_sampler).__name__});'
                f' one epoch is the {self.iters_per_epoch} batches of the '
                'training loader')
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

    # ----------------------------------------------------------- stages
    def _stage_of(self, runner,
                  weighter: SemanticScaleWeighter) -> DSBStage:
        if not self._filled(weighter):
            return DSBStage.FILL
        if self.by_epoch:
            warm = runner.epoch + 1 > self.warmup_epochs
        else:
            warm = runner.iter >= self._warmup_iters
        return DSBStage.REWEIGHT if warm and self.reweight else \
            DSBStage.SLIDE

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            for weighter in self.weighters.values():
                if len(weighter.bank):
                    weighter.bank.refresh()

    def _filled(self, weighter: SemanticScaleWeighter) -> bool:
        """A FIFO bank is filled once it holds ``capacity`` samples, a
        per-sample bank after one epoch: one pass over the training loader
        (``drop_last`` included), or ``iters_per_epoch`` iterations when
        iteration-based."""
        bank = weighter.bank
        if not weighter.per_sample:
            return bank.is_full
        epoch = self.epochs.loader_len if self.by_epoch else \
            self.iters_per_epoch
        if not bank.filled and bank.pushes >= epoch:
            bank.filled = True
        return bank.filled

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        refresh = (not self.by_epoch and runner.iter > 0
                   and runner.iter % self._refresh_every == 0)
        if self.per_sample:
            kept = None  # a repeated sample overwrites its own slot
        elif self.by_epoch:
            kept = self.epochs.kept_rows(runner.epoch, batch_idx)
        else:
            kept = self.epochs.kept_rows(
                *divmod(runner.iter, self.epochs.loader_len))
        for name, weighter in self.weighters.items():
            if refresh:
                weighter.bank.refresh()
            weighter.kept_rows = kept
            if self.per_sample:
                weighter.batch_keys = self._batch_keys(
                    runner, name, data_batch)
            stage = self._stage_of(runner, weighter)
            before = self._stages.get(name)
            if stage != before:
                self._log_stage(runner, name, weighter, stage)
                if weighter.per_sample and before in (None, DSBStage.FILL) \
                        and stage > DSBStage.FILL:
                    self._log_unseen(runner, name, weighter)
                self._stages[name] = stage
            weighter.stage = stage

    def _batch_keys(self, runner, name: str, data_batch: DATA_BATCH):
        """The first bank key of each sample of this rank's batch."""
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        if samples is None:
            raise ValueError(
                "DSBHook with bank_policy='per_sample' reads the keys of "
                'the samples from data_batch["data_samples"], which this '
                'training loop does not provide')
        table = self._keys[name]
        keys = table.batch_keys(samples)
        if torch.cuda.is_available():
            # Pinned, the copy to the device does not wait for its queue.
            keys = keys.pin_memory()
        for note in table.notes():
            runner.logger.warning(f'DSB [{name}]: {note}')
        return keys

    def _log_stage(self, runner, name: str, weighter: SemanticScaleWeighter,
                   stage: DSBStage) -> None:
        where = (f'epoch {runner.epoch + 1}, ' if self.by_epoch else
                 '') + f'iteration {runner.iter + 1}'
        bank = weighter.bank
        what = stage.describe(len(bank), bank.capacity,
                              weighter.per_sample)
        runner.logger.info(
            f'DSB [{name}]: stage {int(stage)} starts at {where}: {what}')

    def _log_unseen(self, runner, name: str,
                    weighter: SemanticScaleWeighter) -> None:
        """Once a per-sample bank is filled: how many samples it lacks."""
        bank = weighter.bank
        unseen = bank.capacity - len(bank)
        if unseen:
            runner.logger.warning(
                f'DSB [{name}]: after one epoch {unseen} of the '
                f'{bank.capacity} samples have no feature in the bank '
                '(filtered or dropped by the pipeline, or never matched '
                "by the detector's assigner); they stay out of the "
                'semantic scales until they have one')

    # ---------------------------------------------------------- reports
    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self.reporter.summary(runner, self.weighters, runner.epoch,
                                  f'epoch {runner.epoch + 1}')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.by_epoch and (runner.iter + 1) % self.iters_per_epoch == 0:
            self.reporter.summary(runner, self.weighters, runner.iter + 1,
                                  f'iteration {runner.iter + 1}')

    def after_train(self, runner) -> None:
        self.reporter.final(runner, single=len(self.weighters) == 1)

    def scale_table(self, name: Optional[str] = None) -> Dict[str, list]:
        """Per class of one consumer (default: the first): samples in the
        bank, volume, S', S and DSB weight."""
        return scale_table(self.weighters[name] if name else self.weighter)

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
        # Kept until before_train, where the banks exist and a resumed run
        # can be told from fine-tuning.
        self._checkpoint = dict(
            iter=checkpoint.get('meta', {}).get('iter'),
            **{
                key: checkpoint[key]
                for key in ('dsb_bank', 'dsb_banks') if key in checkpoint
            })
