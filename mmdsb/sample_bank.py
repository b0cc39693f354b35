"""A feature bank indexed by sample: the memory bank of instance
discrimination, with the per-class statistics of :class:`FeatureBank`.

Slot ``k`` holds the most recent feature of sample ``k`` (a dataset index,
or an instance index in detection) instead of the last ``capacity`` rows of
a FIFO window, so every sample of the training set counts once, with its
latest feature, whatever the order the sampler visits them in. A push
replaces a sample's previous row: the old row leaves the statistics of its
(old) class and the new row enters those of its class, through the same
incremental update as the FIFO pool, so the volumes and centre distance sums
are kept up to date for the changed classes only.

Off the CPU a push reads nothing back on the host: repeated keys are
resolved with a stable sort and a search in the sorted keys, not with
``unique``, and every row of a batch writes a value (rows that do not count
write what their slot already holds), so no row needs to be dropped by
boolean indexing. Keys and labels are checked with device-side assertions.
"""
from typing import Dict, Optional, Union

import torch
from torch import Tensor

from .feature_bank import _MISMATCH, FeatureBank
from .semantic_scale import check_labels

__all__ = ['SampleBank']

# What each checked quantity of a saved bank depends on.
_SAMPLE_MISMATCH = {
    'num_samples': 'the bank has one slot per sample (the length of the '
    'training set, or its number of instances); the training set changed',
    'dim': _MISMATCH['dim'],
    'num_classes': _MISMATCH['num_classes'],
}


class SampleBank(FeatureBank):
    """The latest feature of every sample, with incremental per-class
    statistics; the read interface of :class:`FeatureBank`
    (:meth:`volumes`, :meth:`distance_sums`, :meth:`present`,
    :meth:`centres`, ``counts``, :meth:`refresh`, :meth:`nbytes`).

    Args:
        num_samples: number of samples; keys lie in ``[0, num_samples)``.
        dim: feature dimension.
        num_classes: number of classes ``C``.
        eps: radius of the packing spheres used for the volumes.
        device: where the bank and its statistics live.
    """

    def __init__(self,
                 num_samples: int,
                 dim: int,
                 num_classes: int,
                 eps: float = 1.0,
                 device: Union[str, torch.device, None] = None):
        if int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f'num_samples must be a positive integer, got '
                             f'{num_samples}')
        super().__init__(num_samples, dim, num_classes, eps, device)
        # The FIFO cursor means nothing here: a slot is held when its label
        # is not -1, which only the device knows.
        del self.head, self.size
        # Host-side fill state, which DSBHook reads every iteration without
        # a device read: the pushes so far, and whether a whole epoch of
        # them has passed (set by the hook, which knows the epoch length).
        self.pushes = 0
        self.filled = False

    @property
    def num_samples(self) -> int:
        return self.capacity

    def held(self) -> Tensor:
        """Bool per key: whether the sample has a feature (no host read)."""
        return self.labels >= 0

    def keys(self) -> Tensor:
        """The keys of the samples held, in increasing order."""
        return self.held().nonzero().flatten()

    def unseen(self) -> Tensor:
        """The keys never pushed with a valid row, in increasing order."""
        return (~self.held()).nonzero().flatten()

    def __len__(self) -> int:
        """Number of samples held (a host read off the CPU)."""
        return int(self.held().sum())

    @property
    def is_full(self) -> bool:
        """Whether every sample has a feature; once full it stays full, as
        a sample's row is only ever replaced."""
        return len(self) == self.num_samples

    def ordered(self):
        """Features and labels of the samples held, in key order."""
        held = self.held()
        return self.feats[held], self.labels[held]

    def _check_keys(self, keys: Tensor, n: int) -> None:
        if not isinstance(keys, Tensor) or keys.dim() != 1 \
                or keys.numel() != n:
            shape = tuple(keys.shape) if isinstance(keys, Tensor) else None
            raise ValueError(f'keys must be a 1-D tensor with one entry per '
                             f'sample ({n}), got shape {shape}')
        if keys.is_floating_point() or keys.dtype == torch.bool:
            raise ValueError(f'keys must be an integer tensor of sample '
                             f'indices, got {keys.dtype}')
        if not n:
            return
        if self._on_cpu or keys.device.type == 'cpu':
            if keys.min() < 0 or keys.max() >= self.num_samples:
                raise ValueError(
                    f'keys must lie in [0, {self.num_samples}), got values '
                    f'in [{int(keys.min())}, {int(keys.max())}]')
            return
        torch._assert_async(
            ((keys >= 0) & (keys < self.num_samples)).all(),
            f'keys must lie in [0, {self.num_samples})')

    def push(self,
             feats: Tensor,
             labels: Tensor,
             keys: Tensor,
             valid: Optional[Tensor] = None) -> None:
        """Store each row as the latest feature of sample ``keys[i]``.

        A sample's previous row (if any) leaves the statistics of the class
        it was stored with, so a relabelled sample moves to its new class.
        Of a key repeated in the batch only the last valid occurrence
        counts. Rows with ``valid`` False (padding) or with non-finite
        features change nothing: one NaN in a class's statistics could
        never be subtracted out again.
        """
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'the bank holds {self.dim}-d features, got a '
                             f'batch of shape {tuple(feats.shape)}')
        n = feats.shape[0]
        self._check_labels(labels, n)
        self._check_keys(keys, n)
        if valid is not None and tuple(valid.shape) != (n, ):
            raise ValueError(f'valid must be a 1-D mask with one entry per '
                             f'sample ({n}), got shape {tuple(valid.shape)}')
        self.pushes += 1
        if not n:
            return
        feats = feats.detach().to(self.device, torch.float32)
        labels, keys = labels.to(self.device), keys.to(self.device).long()
        ok = torch.isfinite(feats).all(1)
        if valid is not None:
            ok &= valid.to(self.device, torch.bool)
        # Group the rows by key, valid ones last and in batch order within
        # a group: the last row of a group is the one that counts, if valid.
        order = torch.sort(keys * 2 + ok.long(), stable=True).indices
        keys, feats, labels, ok = (keys[order], feats[order], labels[order],
                                   ok[order])
        winner = torch.searchsorted(keys, keys, right=True) - 1
        wins = ok[winner]
        old_feats, old_labels = self.feats[keys], self.labels[keys]
        # Every row of a group writes the same value (its winner's, or what
        # the slot holds), so repeated indices cannot race.
        self.feats[keys] = torch.where(wins[:, None], feats[winner], old_feats)
        self.labels[keys] = torch.where(wins, labels[winner], old_labels)
        # The statistics change once per group: its winner enters, the
        # slot's previous row (void if the slot was empty) leaves.
        enters = wins & (winner == torch.arange(n, device=self.device))
        rows = torch.cat([torch.where(enters[:, None], feats, 0.), old_feats])
        row_labels = torch.cat([torch.where(enters, labels, -1),
                                torch.where(enters, old_labels, -1)])
        sign = torch.cat([feats.new_ones(n), feats.new_full((n, ), -1.)])
        if self._on_cpu:
            # Void rows would only mark class 0 stale.
            real = row_labels >= 0
            rows, row_labels, sign = rows[real], row_labels[real], sign[real]
        self._update_stats(rows, row_labels, sign)

    def state_dict(self) -> Dict[str, Union[Tensor, int]]:
        """The samples held, as plain tensors and integers, in key order."""
        feats, labels = self.ordered()
        return dict(
            keys=self.keys().cpu(),
            feats=feats.cpu(),
            labels=labels.cpu(),
            num_samples=self.num_samples,
            dim=self.dim,
            num_classes=self.num_classes,
            pushes=self.pushes,
            filled=self.filled)

    def load_state_dict(self, state: Dict[str, Union[Tensor, int]]) -> None:
        """Restore a bank saved by :meth:`state_dict` and re-derive the
        statistics. The bank must have the same number of samples,
        dimension and number of classes."""
        if 'keys' not in state:
            raise ValueError(
                'the saved bank is a FIFO queue (no sample keys), not a '
                'per-sample bank')
        for key, why in _SAMPLE_MISMATCH.items():
            if int(state[key]) != getattr(self, key):
                raise ValueError(
                    f'the saved sample bank has {key}={int(state[key])} but '
                    f'this bank has {key}={getattr(self, key)}: {why}')
        keys, feats, labels = state['keys'], state['feats'], state['labels']
        n = keys.shape[0] if keys.dim() == 1 else -1
        if feats.dim() != 2 or feats.shape != (n, self.dim):
            raise ValueError(
                f'the saved sample bank holds features of shape '
                f'{tuple(feats.shape)} for keys of shape '
                f'{tuple(keys.shape)}, which does not fit a bank of '
                f'dimension {self.dim}')
        check_labels(labels, self.num_classes, n)
        keys = keys.cpu()
        if keys.is_floating_point() or keys.dtype == torch.bool or (
                n and (keys.min() < 0 or keys.max() >= self.num_samples)):
            raise ValueError(f'the saved sample bank has keys outside '
                             f'[0, {self.num_samples})')
        if torch.unique(keys).numel() != n:
            raise ValueError('the saved sample bank holds a key twice')
        if not torch.isfinite(feats).all():
            raise ValueError('the saved sample bank holds non-finite '
                             'features')
        keys = keys.to(self.device).long()
        self.feats.zero_()
        self.labels.fill_(-1)
        self.feats[keys] = feats.to(self.device, torch.float32)
        self.labels[keys] = labels.to(self.device)
        self.pushes = int(state.get('pushes', 0))
        self.filled = bool(state.get('filled', n == self.num_samples))
        self.refresh()
