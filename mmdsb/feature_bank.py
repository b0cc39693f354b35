"""The storage pool ``Q`` of the dynamic re-weighting framework.

A first-in first-out pool of (feature, label) pairs that keeps, per class,
the sufficient statistics of its features (count, sum and scatter matrix
``sum z z^T``, float64). An update changes the statistics of the classes that
entered or left the pool only, so an iteration costs ``O(batch * d^2)`` plus
the volumes of those classes, never a pass over the pool. ``refresh``
re-derives everything from the pool so that rounding cannot drift.

Pure PyTorch, no OpenMMLab import.
"""
from typing import Dict, Optional, Union

import torch
from torch import Tensor

from .semantic_scale import (centre_distance_sums, check_labels,
                             volumes_from_scatter)

__all__ = ['FeatureBank']

# What each checked quantity of a saved pool depends on.
_MISMATCH = {
    'capacity': 'the capacity is the number of distinct samples in one '
    'epoch (or the configured capacity), which does not depend on the '
    'number of processes; the training set changed',
    'dim': 'the stored feature dimension (bank_dim) changed',
    'num_classes': "the model's number of classes changed",
}


class FeatureBank:
    """FIFO pool of features with incremental per-class statistics.

    Args:
        capacity: largest number of samples held.
        dim: feature dimension.
        num_classes: number of classes ``C``.
        eps: radius of the packing spheres used for the volumes.
        device: where the pool and its statistics live.
    """

    def __init__(self,
                 capacity: int,
                 dim: int,
                 num_classes: int,
                 eps: float = 1.0,
                 device: Union[str, torch.device, None] = None):
        for name, value in (('capacity', capacity), ('dim', dim),
                            ('num_classes', num_classes)):
            if int(value) != value or value < 1:
                raise ValueError(f'{name} must be a positive integer, '
                                 f'got {value}')
        if not eps > 0:
            raise ValueError(f'eps must be positive, got {eps}')
        self.capacity, self.dim = int(capacity), int(dim)
        self.num_classes, self.eps = int(num_classes), float(eps)
        device = torch.device(device or 'cpu')
        f64 = dict(dtype=torch.float64, device=device)
        self.feats = torch.zeros(self.capacity, self.dim, device=device)
        self.labels = torch.full((self.capacity, ), -1, dtype=torch.long,
                                 device=device)
        self.head = 0  # position of the oldest sample
        self.size = 0
        self.counts = torch.zeros(self.num_classes, **f64)
        self.sums = torch.zeros(self.num_classes, self.dim, **f64)
        self.scatters = torch.zeros(self.num_classes, self.dim, self.dim,
                                    **f64)
        # Caches of the derived quantities, valid for the classes that have
        # not changed since they were computed.
        self._volumes = torch.zeros(self.num_classes, **f64)
        self._stale_volumes = torch.ones(
            self.num_classes, dtype=torch.bool, device=device)
        self._centres = torch.zeros(self.num_classes, self.dim, **f64)
        self._centres_present = torch.zeros(
            self.num_classes, dtype=torch.bool, device=device)
        self._distance_sums = torch.zeros(self.num_classes, **f64)
        self._stale_centres = torch.ones_like(self._stale_volumes)

    @property
    def device(self) -> torch.device:
        return self.feats.device

    def __len__(self) -> int:
        return self.size

    @property
    def is_full(self) -> bool:
        """Whether the pool holds ``capacity`` samples; once full it stays
        full, as :meth:`push` only dequeues what exceeds the capacity."""
        return self.size == self.capacity

    def nbytes(self) -> int:
        """Memory held by the pool and its statistics, in bytes."""
        tensors = (self.feats, self.labels, self.counts, self.sums,
                   self.scatters, self._volumes, self._centres,
                   self._distance_sums)
        return sum(t.numel() * t.element_size() for t in tensors)

    def _positions(self, start: int, n: int) -> Tensor:
        return (start + torch.arange(n, device=self.device)) % self.capacity

    def ordered(self):
        """Features and labels in the pool, oldest first."""
        pos = self._positions(self.head, self.size)
        return self.feats[pos], self.labels[pos]

    def push(self, feats: Tensor, labels: Tensor, evict: int = 0) -> None:
        """Enqueue a batch; dequeue the oldest samples beyond the capacity.

        A pool below capacity grows; a full pool drops as many of its
        oldest samples as the batch brings (Algorithm 2). ``evict`` forces
        at least that many of the oldest samples out first.
        """
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'the bank holds {self.dim}-d features, got a '
                             f'batch of shape {tuple(feats.shape)}')
        check_labels(labels, self.num_classes, feats.shape[0])
        feats = feats.detach().to(self.device, torch.float32)
        labels = labels.to(self.device)
        if feats.shape[0] > self.capacity:
            feats, labels = feats[-self.capacity:], labels[-self.capacity:]
        b = feats.shape[0]
        n_out = min(self.size, max(int(evict), self.size + b - self.capacity))
        out_pos = self._positions(self.head, n_out)
        out_feats, out_labels = self.feats[out_pos], self.labels[out_pos]
        self.head = (self.head + n_out) % self.capacity
        self.size -= n_out
        in_pos = self._positions(self.head + self.size, b)
        self.feats[in_pos] = feats
        self.labels[in_pos] = labels
        self.size += b
        sign = torch.cat([feats.new_ones(b), feats.new_full((n_out, ), -1.)])
        self._update_stats(
            torch.cat([feats, out_feats]), torch.cat([labels, out_labels]),
            sign)

    def _update_stats(self, feats: Tensor, labels: Tensor,
                      sign: Tensor) -> None:
        if labels.numel() == 0:
            return
        x = feats.double()
        s = sign.double()
        self.counts.index_add_(0, labels, s)
        self.sums.index_add_(0, labels, x * s[:, None])
        self.scatters.index_add_(0, labels,
                                 (x * s[:, None])[:, :, None] * x[:, None, :])
        changed = torch.unique(labels)
        self._stale_volumes[changed] = True
        self._stale_centres[changed] = True

    def refresh(self) -> None:
        """Re-derive all statistics from the pool, exactly.

        The pool is read oldest first, so the result does not depend on
        where the ring buffer happens to start.
        """
        feats, labels = self.ordered()
        self.counts.zero_()
        self.sums.zero_()
        self.scatters.zero_()
        order = torch.argsort(labels, stable=True)
        x, sorted_labels = feats.double()[order], labels[order]
        counts = torch.bincount(sorted_labels, minlength=self.num_classes)
        self.counts.copy_(counts)
        self.sums.index_add_(0, sorted_labels, x)
        for c, xc in zip(counts.nonzero().flatten().tolist(),
                         torch.split(x, counts[counts > 0].tolist())):
            self.scatters[c] = xc.T @ xc
        self._stale_volumes.fill_(True)
        self._stale_centres.fill_(True)
        self._distance_sums.zero_()
        self._centres_present.zero_()

    def volumes(self) -> Tensor:
        """``(C,)`` float64 volume of every class (0 below 2 samples)."""
        stale = self._stale_volumes.nonzero().flatten()
        if stale.numel():
            self._volumes[stale] = volumes_from_scatter(
                self.counts[stale], self.sums[stale], self.scatters[stale],
                self.eps)
            self._stale_volumes.zero_()
        return self._volumes.clone()

    def present(self) -> Tensor:
        """Classes with at least one sample in the pool."""
        return self.counts > 0.5

    def centres(self) -> Tensor:
        return self.sums / self.counts.clamp_min(1)[:, None]

    def distance_sums(self) -> Tensor:
        """For every present class, the summed distance from its centre to
        all present class centres; updated for the changed classes only."""
        changed = self._stale_centres.nonzero().flatten()
        if changed.numel() == 0:
            return self._distance_sums.clone()
        present, centres = self.present(), self.centres()
        if 2 * changed.numel() >= self.num_classes:
            # Most classes moved: one full pass is cheaper.
            self._distance_sums = centre_distance_sums(centres, present)
        else:
            self._update_distance_sums(changed, centres, present)
        self._centres.copy_(centres)
        self._centres_present.copy_(present)
        self._stale_centres.zero_()
        return self._distance_sums.clone()

    def _update_distance_sums(self, changed: Tensor, centres: Tensor,
                              present: Tensor) -> None:
        k = changed.numel()
        # Rows: the changed classes' new then old centres; columns: every
        # class's current centre (unchanged classes have not moved).
        dist = torch.cdist(
            torch.cat([centres[changed], self._centres[changed]]), centres)
        sign = torch.cat([present[changed], self._centres_present[changed]])
        sign = sign.double()
        sign[k:] *= -1
        sums = self._distance_sums
        # Unchanged classes: swap the distances to the moved centres.
        sums += sign @ dist
        # Changed classes: their full row, recomputed.
        sums[changed] = dist[:k] @ present.double()
        sums[~present] = 0

    def state_dict(self) -> Dict[str, Union[Tensor, int]]:
        """The pool as plain tensors and integers, oldest sample first."""
        feats, labels = self.ordered()
        return dict(
            feats=feats.cpu(),
            labels=labels.cpu(),
            capacity=self.capacity,
            dim=self.dim,
            num_classes=self.num_classes)

    def load_state_dict(self, state: Dict[str, Union[Tensor, int]]) -> None:
        """Restore a pool saved by :meth:`state_dict` and re-derive the
        statistics. The bank must have the same capacity, dimension and
        number of classes."""
        for key, why in _MISMATCH.items():
            if int(state[key]) != getattr(self, key):
                raise ValueError(
                    f'the saved feature bank has {key}={int(state[key])} but '
                    f'this bank has {key}={getattr(self, key)}: {why}')
        feats, labels = state['feats'], state['labels']
        if feats.shape[0] > self.capacity or feats.shape[1:] != (self.dim, ):
            raise ValueError(
                f'the saved feature bank holds features of shape '
                f'{tuple(feats.shape)}, which does not fit a bank of '
                f'capacity {self.capacity} and dimension {self.dim}')
        check_labels(labels, self.num_classes, feats.shape[0])
        n = feats.shape[0]
        self.feats.zero_()
        self.labels.fill_(-1)
        self.feats[:n] = feats.to(self.device, torch.float32)
        self.labels[:n] = labels.to(self.device)
        self.head, self.size = 0, n
        self.refresh()

    def to(self, device: Optional[Union[str, torch.device]]) -> 'FeatureBank':
        """Move the pool and its statistics to ``device``."""
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                setattr(self, name, value.to(device))
        return self
