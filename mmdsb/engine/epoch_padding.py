"""Which rows of a training batch are a sampler's padding repeats.

mmengine's ``DefaultSampler`` and mmpretrain's ``RepeatAugSampler`` spread
one epoch over the ranks by striding (position ``k`` of rank ``r`` is
position ``k * world + r`` of the epoch) and pad the epoch with repeats up
to a multiple of the world size. The repeats would enter the DSB bank a
second time. A batch sampler (mmdet's ``AspectRatioBatchSampler``) may
regroup the indices, so a batch's rows are not the sampler's positions in
order: the padded rows are found by dataset index instead, by iterating the
same sampler and batch sampler as the loader does.
"""
import copy
import math
from collections import Counter
from typing import List, Optional

from mmengine.dataset import DefaultSampler

__all__ = [
    'batch_size_of', 'index_sampler', 'pads_epochs', 'padding_masks',
    'LoaderEpochs'
]


def batch_size_of(loader) -> Optional[int]:
    """Samples per batch of one rank: the loader's, else its batch
    sampler's (``None`` when neither says)."""
    if loader.batch_size is not None:
        return int(loader.batch_size)
    size = getattr(loader.batch_sampler, 'batch_size', None)
    return None if size is None else int(size)


def index_sampler(loader):
    """The sampler that orders the dataset indices: the batch sampler's
    when the loader has one of its own (then ``loader.sampler`` is
    torch's unused default)."""
    inner = getattr(loader.batch_sampler, 'sampler', None)
    return inner if inner is not None else loader.sampler


def pads_epochs(sampler) -> bool:
    """Whether ``sampler`` strides one epoch over the ranks and pads it
    with repeats (see the module docstring)."""
    if isinstance(sampler, DefaultSampler):
        return True
    try:
        from mmpretrain.datasets.samplers import RepeatAugSampler
    except ImportError:
        return False
    return isinstance(sampler, RepeatAugSampler)


def _batch_stream(loader, order: List[int]):
    """The batches of dataset indices that the loader yields in this pass,
    from a copy of its batch sampler: a batch sampler may keep buffers in
    list attributes (mmdet's ``AspectRatioBatchSampler``: one per aspect
    ratio group) that the loader's own iteration is filling."""
    batch_sampler = loader.batch_sampler
    if batch_sampler is None:
        return ([i] for i in order)
    clone = copy.copy(batch_sampler)
    for name, value in vars(batch_sampler).items():
        if isinstance(value, list) and all(
                isinstance(v, list) for v in value):
            setattr(clone, name, [[] for _ in value])
    return iter(clone)


def padding_masks(loader, num_distinct: int, world: int,
                  rank: int) -> Optional[List[Optional[List[bool]]]]:
    """For each batch of this rank's current pass over ``loader``, which
    rows hold a sample that is not padding (``None`` for a batch without
    padding); ``None`` when the pass has no padding at all.

    Position ``k`` of the rank's indices is padding when
    ``k * world + rank >= num_distinct``; these are the last positions of
    the rank. A batch sampler keeps the order of the occurrences of one
    index (the same image falls in the same group), so the last
    occurrences of an index in the batches are its padded ones.
    """
    order = [int(i) for i in index_sampler(loader)]
    padded = Counter(idx for k, idx in enumerate(order)
                     if k * world + rank >= num_distinct)
    if not padded:
        return None
    total, seen = Counter(order), Counter()
    masks = []
    for batch in _batch_stream(loader, order):
        keep = []
        for idx in batch:
            idx = int(idx)
            seen[idx] += 1
            keep.append(seen[idx] <= total[idx] - padded[idx])
        masks.append(None if all(keep) else keep)
    return masks


class LoaderEpochs:
    """The epochs of a rank's training loader: their length in iterations
    and, per batch, which rows are padding.

    Args:
        loader: the training loader.
        num_distinct: distinct samples in one epoch (``len(dataset)``).
        world, rank: the processes.
    """

    def __init__(self, loader, num_distinct: int, world: int, rank: int):
        self.loader, self.num_distinct = loader, num_distinct
        self.world, self.rank = world, rank
        sampler = index_sampler(loader)
        self.pads = pads_epochs(sampler) and \
            len(sampler) * world > num_distinct
        self.loader_len = len(loader)
        batch_size = batch_size_of(loader)
        # Without a batch size (a batch sampler that does not say it), one
        # epoch is the batches the loader yields on this rank.
        self.batch_size_known = batch_size is not None
        self.iters_per_epoch = self.loader_len if batch_size is None else \
            math.ceil(num_distinct / (batch_size * world))
        self._masks, self._pass = None, None

    def kept_rows(self, pass_idx: int,
                  step: int) -> Optional[List[bool]]:
        """Which rows of batch ``step`` of the loader's pass ``pass_idx``
        are not padding (``None``: all of them). Call it once the pass has
        begun, so that the sampler has this pass's epoch."""
        if not self.pads:
            return None
        if pass_idx != self._pass:
            self._masks = padding_masks(self.loader, self.num_distinct,
                                        self.world, self.rank)
            self._pass = pass_idx
        if self._masks is None or step >= len(self._masks):
            return None
        return self._masks[step]
