"""Hands the training set's class counts and the training progress to the
count-based and epoch-dependent losses and heads.

Framework-neutral (no mmpretrain or mmdet import): a module takes part by
inheriting :class:`ClassCountsConsumer` (class counts) or
:class:`EpochAware` (training progress); a framework adapter registers its
classification-head base class as a :class:`ClassifierHead`, whose
``num_classes`` the hook checks against the counts.
"""
import math
from abc import ABC
from typing import List, Optional

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop
from torch import Tensor

from ..guards import CountsLike, check_class_counts

__all__ = [
    'ClassCountsHook', 'ClassCountsConsumer', 'ClassifierHead', 'EpochAware',
    'dataset_class_counts'
]


class ClassCountsConsumer:
    """Mixin for modules that use the per-class training counts.

    :class:`ClassCountsHook` calls :meth:`set_class_counts` with the counts
    of the training dataset before training; a config never types them.
    The counts are kept, checked, as a float64 tensor in ``class_counts``;
    a module with an ``int`` attribute ``num_classes`` must get that many.
    """

    class_counts: Optional[Tensor] = None

    def set_class_counts(self, counts: CountsLike) -> None:
        self.class_counts = check_class_counts(
            counts, getattr(self, 'num_classes', None),
            owner=type(self).__name__)

    def require_class_counts(self,
                             num_classes: Optional[int] = None) -> Tensor:
        """The counts, checked against the ``num_classes`` of the scores
        when given; a clear error where nothing has set them."""
        name = type(self).__name__
        if self.class_counts is None:
            raise RuntimeError(
                f'{name} has no class counts: add '
                "dict(type='ClassCountsHook') to default_hooks (it reads "
                'them from the training dataset) or call set_class_counts')
        if num_classes is not None and \
                self.class_counts.numel() != num_classes:
            raise ValueError(
                f'{name}: got {self.class_counts.numel()} class counts but '
                f'the scores have {num_classes} classes')
        return self.class_counts


class EpochAware:
    """Mixin for modules that depend on the training progress.

    :class:`ClassCountsHook` calls :meth:`set_epoch` before each epoch.
    ``epoch`` is the number of finished epochs (0 during the first one,
    mmengine's ``runner.epoch``); ``max_epochs`` the length of training.
    """

    epoch: Optional[int] = None
    max_epochs: Optional[int] = None

    def set_epoch(self, epoch: int, max_epochs: int) -> None:
        if epoch < 0 or max_epochs < 1:
            raise ValueError(f'invalid training progress: epoch {epoch} of '
                             f'{max_epochs}')
        self.epoch, self.max_epochs = int(epoch), int(max_epochs)

    def require_epoch(self) -> int:
        if self.epoch is None:
            raise RuntimeError(
                f'{type(self).__name__} depends on the epoch: add '
                "dict(type='ClassCountsHook') to default_hooks or call "
                'set_epoch(epoch, max_epochs)')
        return self.epoch


class ClassifierHead(ABC):
    """Classification heads, whose ``num_classes`` (when an ``int``) must
    equal the number of training class counts.

    A framework adapter registers its head base class, e.g.
    ``ClassifierHead.register(ClsHead)`` (mmdsb.models does so for
    mmpretrain), so that every head derived from it is checked, whether or
    not it uses the counts itself.
    """


def dataset_class_counts(dataset, num_classes: Optional[int] = None
                         ) -> List[int]:
    """Per-class training counts of a dataset: its metainfo
    ``train_class_counts`` when present (mmdsb's long-tailed datasets),
    else a count of ``get_gt_labels()`` or of ``get_cat_ids(i)``."""
    counts = dataset.metainfo.get('train_class_counts') if hasattr(
        dataset, 'metainfo') else None
    if counts is not None:
        return [int(c) for c in counts]
    if hasattr(dataset, 'get_gt_labels'):
        labels = np.asarray(dataset.get_gt_labels(), dtype=np.int64)
    elif hasattr(dataset, 'get_cat_ids'):
        labels = np.asarray(
            [c for i in range(len(dataset)) for c in dataset.get_cat_ids(i)],
            dtype=np.int64)
    else:
        raise TypeError(
            f'cannot count the classes of {type(dataset).__name__}: it has '
            "no metainfo['train_class_counts'], get_gt_labels or "
            'get_cat_ids')
    if num_classes is None:
        classes = dataset.metainfo.get('classes') if hasattr(
            dataset, 'metainfo') else None
        num_classes = len(classes) if classes else int(labels.max()) + 1
    return np.bincount(labels, minlength=num_classes).tolist()


@HOOKS.register_module()
class ClassCountsHook(Hook):
    """Before training, reads the class counts of
    ``runner.train_dataloader.dataset`` and calls ``set_class_counts`` on
    every module of the model that has it (count-based losses, FBL head).
    Every classification head with a ``num_classes`` attribute must agree
    with the number of counts, else training stops with an error.

    Before each epoch it calls ``set_epoch(epoch, max_epochs)`` on every
    module that has it (FBL's ``alpha(t)``, KPS's GA switch, LDAM's DRW),
    ``epoch`` being the number of finished epochs. Under an iteration-based
    loop an epoch is one pass over the train dataloader.

    Add it to ``default_hooks`` (a dict, so it survives config
    inheritance next to ``custom_hooks`` such as ``DSBHook``)::

        default_hooks = dict(class_counts=dict(type='ClassCountsHook'))
    """

    priority = 'ABOVE_NORMAL'

    @staticmethod
    def _modules(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return list(model.modules())

    def before_train(self, runner) -> None:
        modules = self._modules(runner)
        takers = [m for m in modules if isinstance(m, ClassCountsConsumer)]
        heads = {type(m).__name__: m.num_classes for m in modules
                 if isinstance(m, ClassifierHead)
                 and isinstance(getattr(m, 'num_classes', None), int)}
        dataset = runner.train_dataloader.dataset
        counts = dataset_class_counts(
            dataset, next(iter(heads.values()), None))
        for name, num_classes in heads.items():
            if len(counts) != num_classes:
                raise ValueError(
                    f'ClassCountsHook: the training dataset '
                    f'{type(dataset).__name__} has {len(counts)} class '
                    f'counts but {name} has num_classes={num_classes}')
        check_class_counts(counts, owner='ClassCountsHook (training set)')
        for m in takers:
            m.set_class_counts(counts)
        runner.logger.info(
            f'ClassCountsHook: {len(counts)} classes, {sum(counts)} training'
            f' images (largest {max(counts)}, smallest {min(counts)}) for '
            + (', '.join(sorted({type(m).__name__ for m in takers}))
               or 'no count-based module'))
        self._iter_based = isinstance(runner.train_loop, IterBasedTrainLoop)
        self._last_epoch = None

    def _set_epoch(self, runner, epoch: int, max_epochs: int) -> None:
        if epoch == self._last_epoch:
            return
        self._last_epoch = epoch
        for m in self._modules(runner):
            if isinstance(m, EpochAware):
                m.set_epoch(epoch, max_epochs)

    def before_train_epoch(self, runner) -> None:
        if not self._iter_based:
            self._set_epoch(runner, runner.epoch, runner.max_epochs)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._iter_based:
            per_epoch = max(len(runner.train_dataloader), 1)
            self._set_epoch(runner, runner.iter // per_epoch,
                            math.ceil(runner.max_iters / per_epoch))
