"""The storage pool ``Q`` of the dynamic re-weighting framework.

A first-in first-out pool of (feature, label) pairs that keeps, per class,
the sufficient statistics of its features (count, sum and scatter matrix
``sum z z^T``, float64). An update changes the statistics of the classes that
entered or left the pool only, and the volumes and inter-class distance sums
are brought up to date for those classes only, so an iteration costs
``O(batch * d^2)`` for the statistics, one ``d x d`` Cholesky factorisation
per changed class and ``O(changed * C * d)`` for the distances, never a pass
over the pool. ``refresh`` re-derives everything from the pool.

Precision: counts, sums, scatter matrices and volumes are float64 (a volume
is a log-determinant of a centred scatter, which float32 cannot hold). The
distances between class centres are computed in float32 blocks, about a
global reference point, and summed in float64; the incremental update adds
the change of each distance in a form whose rounding is relative to the
change itself (``(d_new^2 - d_old^2) / (d_new + d_old)``), so that it does
not drift over iterations. The distance sums agree with a float64
recomputation within about ``1e-7`` relative, the DSB weights within
``1e-6`` (their sensitivity to the distance sums is below 1).

Off the CPU the update never reads device data on the host: the set of
changed classes is the (sorted, bounded) list of labels that entered or
left, with repeated labels masked instead of removed by ``unique``; labels
are checked with device-side assertions; rows that must stay out of the
statistics (non-finite features, sampler padding) are stored with the label
``-1`` and count for nothing (see :meth:`push`).

PyTorch (and SciPy's LAPACK binding, installed with scikit-learn, for the CPU
Cholesky factorisations), no OpenMMLab import.
"""
import math
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .semantic_scale import check_labels

__all__ = ['FeatureBank']

# What each checked quantity of a saved pool depends on.
_MISMATCH = {
    'capacity': 'the capacity is the number of distinct samples in one '
    'epoch (or the configured capacity), which does not depend on the '
    'number of processes; the training set changed',
    'dim': 'the stored feature dimension (bank_dim) changed',
    'num_classes': "the model's number of classes changed",
}
# Rows of outer products added at once: 64 x 64 x 64 float64 is 2 MiB, which
# stays in cache; the whole batch at once is memory-bound.
_PUSH_ROWS = 64
# Columns of a block of centre distances (changed classes x columns, float32,
# a few MiB): the block is consumed while it is in cache.
_DIST_COLS = 512
# Classes whose volumes are computed in one batch of d x d matrices.
_VOLUME_BLOCK = 1024


_LN2 = math.log(2.0)
try:
    # LAPACK's potrf without torch's extra passes (a copy of the batch and
    # the zeroing of the upper triangles): about twice as fast on 64 x 64.
    from scipy.linalg.lapack import dpotrf as _dpotrf
except ImportError:  # SciPy is optional; torch's cholesky_ex is used then
    _dpotrf = None


def _cholesky_diagonals(mats: Tensor) -> Tuple[Tensor, Tensor]:
    """Diagonals of the Cholesky factors of a batch of float64 symmetric
    matrices (``mats`` may be overwritten) and LAPACK's ``info`` (0: done).

    On the CPU LAPACK factors a batch one matrix after the other on one
    core either way. Factoring parts on other threads does not pay: every
    thread that runs torch operations gets a team of OpenMP threads that
    keep spinning after the work and take the cores from the rest of the
    step (measured: twice the time of the whole step on 2 cores).
    """
    if mats.device.type == 'cpu' and _dpotrf is not None:
        # In place; each matrix's transpose is Fortran-ordered: no copy.
        # Positional flags (lower, clean, overwrite_a): f2py parses
        # keywords on every call, a few percent of a 64 x 64 factorisation.
        info = [_dpotrf(m.T, 1, 0, 1)[1] for m in mats.numpy()]
        return mats.diagonal(dim1=-2, dim2=-1), torch.tensor(info)
    # The matrices are symmetric: their transposed views are the same
    # matrices in the column-major layout LAPACK wants (no transposing copy).
    factor, info = torch.linalg.cholesky_ex(mats.mT)
    return factor.diagonal(dim1=-2, dim2=-1), info


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
        # Caches of the derived quantities. The labels pushed since a cache
        # was last brought up to date name the classes it is stale for; the
        # host keeps their tensors and sizes (no device read).
        self._volumes = torch.zeros(self.num_classes, **f64)
        self._centres = torch.zeros(self.num_classes, self.dim, **f64)
        self._centres_present = torch.zeros(
            self.num_classes, dtype=torch.bool, device=device)
        self._distance_sums = torch.zeros(self.num_classes, **f64)
        self._invalidate()

    def _invalidate(self) -> None:
        """Mark every cached volume and distance sum stale."""
        self._stale_volumes: Optional[List[Tensor]] = None
        self._stale_centres: Optional[List[Tensor]] = None
        self._stale_volumes_n = self._stale_centres_n = 0

    @property
    def device(self) -> torch.device:
        return self.feats.device

    @property
    def _on_cpu(self) -> bool:
        # On the CPU reading a tensor costs nothing; elsewhere it stops the
        # host from queueing work, so those paths avoid it.
        return self.device.type == 'cpu'

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
        """Features and labels in the pool, oldest first (rows stored as
        void, label ``-1``, left out)."""
        pos = self._positions(self.head, self.size)
        feats, labels = self.feats[pos], self.labels[pos]
        keep = labels >= 0
        if bool(keep.all()):
            return feats, labels
        return feats[keep], labels[keep]

    def push(self,
             feats: Tensor,
             labels: Tensor,
             evict: int = 0,
             valid: Optional[Tensor] = None) -> None:
        """Enqueue a batch; dequeue the oldest samples beyond the capacity.

        A pool below capacity grows; a full pool drops as many of its
        oldest samples as the batch brings (Algorithm 2). ``evict`` forces
        at least that many of the oldest samples out first.

        ``valid`` (bool per row) marks rows to keep out of the statistics.
        On the CPU they are dropped. Elsewhere they keep the batch's shape,
        so that the host never needs to count them: they take a slot with
        the label ``-1`` and leave with it.
        """
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'the bank holds {self.dim}-d features, got a '
                             f'batch of shape {tuple(feats.shape)}')
        self._check_labels(labels, feats.shape[0])
        feats = feats.detach().to(self.device, torch.float32)
        labels = labels.to(self.device)
        if valid is not None and self._on_cpu:
            # Reading the mask costs nothing here: left-out rows take no
            # slot, so the pool holds real samples only.
            valid = valid.to(self.device)
            if not bool(valid.all()):
                feats, labels = feats[valid], labels[valid]
        elif valid is not None:
            # Zeroed too: a NaN row would poison class 0's sums even with
            # the weight 0 of a void row (NaN * 0 is NaN).
            valid = valid.to(self.device)
            labels = torch.where(valid, labels, -1)
            feats = torch.where(valid[:, None], feats, 0.)
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

    def _check_labels(self, labels: Tensor, n: int) -> None:
        if self._on_cpu or labels.device.type == 'cpu':
            check_labels(labels, self.num_classes, n)
            return
        # Same checks; the value check is an assertion on the device.
        check_labels(labels[:0], self.num_classes)
        if labels.dim() != 1 or labels.numel() != n:
            raise ValueError(f'labels must be a 1-D tensor with one entry '
                             f'per sample ({n}), got shape '
                             f'{tuple(labels.shape)}')
        if n:
            torch._assert_async(
                ((labels >= 0) & (labels < self.num_classes)).all(),
                f'labels must lie in [0, {self.num_classes})')

    def _update_stats(self, feats: Tensor, labels: Tensor,
                      sign: Tensor) -> None:
        if labels.numel() == 0:
            return
        # Void rows (label -1) go to class 0 with weight 0.
        sign = (sign * (labels >= 0)).double()
        labels = labels.clamp_min(0)
        x = feats.double()
        xs = x * sign[:, None]
        self.counts.index_add_(0, labels, sign)
        self.sums.index_add_(0, labels, xs)
        for i in range(0, labels.numel(), _PUSH_ROWS):
            rows = slice(i, i + _PUSH_ROWS)
            self.scatters.index_add_(0, labels[rows],
                                     xs[rows, :, None] * x[rows, None, :])
        for name in ('_stale_volumes', '_stale_centres'):
            stale = getattr(self, name)
            if stale is not None:
                stale.append(labels)
                setattr(self, name + '_n',
                        getattr(self, name + '_n') + labels.numel())

    def _changed(self, stale: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """The classes named in ``stale`` and a mask that keeps one entry
        per class. On the CPU the classes are distinct; elsewhere they are
        the sorted labels, repeats masked out (``unique`` would read the
        number of classes on the host)."""
        ids = torch.cat(stale)
        if self._on_cpu:
            ids = torch.unique(ids)
            return ids, torch.ones_like(ids, dtype=torch.bool)
        ids = torch.sort(ids).values
        first = torch.ones_like(ids, dtype=torch.bool)
        first[1:] = ids[1:] != ids[:-1]
        return ids, first

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
        self._invalidate()

    def _volume_matrices(self, ids: Tensor) -> Tuple[Tensor, Tensor]:
        """``M - s s^T / n + (1 / k) I`` of the classes ``ids``, built in
        place on one gathered copy, and ``1 / k``, ``k = d / (n eps^2)``.

        The volume matrix ``I + k (M - s s^T / n)`` is ``k`` times this
        one, so ``log det`` gains ``d log k``: scaling the diagonal instead
        of every entry saves a pass over the matrices.
        """
        n = self.counts[ids].clamp_min(1)
        s = self.sums[ids]
        mats = self.scatters.index_select(0, ids)
        # One broadcast pass, no temporary of the matrices' size.
        mats.addcmul_((s / n[:, None])[:, :, None], s[:, None, :], value=-1)
        inv_k = n * (self.eps * self.eps / self.dim)
        mats.diagonal(dim1=-2, dim2=-1).add_(inv_k[:, None])
        return mats, inv_k

    def _class_volumes(self, ids: Tensor) -> Tensor:
        """Volumes ``1/2 log2 det`` of the classes ``ids`` from their
        Cholesky factors (0 below 2 samples).

        On the CPU a matrix that fails to factor (rounding broke its
        positive semi-definite part) falls back to eigenvalues clamped at 1,
        as :func:`mmdsb.semantic_scale.feature_volume` does; off the CPU
        that check would stop the host, so such a class gets a NaN volume
        and counts as unusable (it takes the largest weight). Failure needs
        features of magnitude about 1e7, far beyond any trained network's.
        """
        mats, inv_k = self._volume_matrices(ids)
        diag, info = _cholesky_diagonals(mats)
        # Volume = 1/2 log2 det = (sum(log diag L) + d/2 log k) / ln 2.
        half_logdet = diag.log().sum(-1)
        bad = info.to(half_logdet.device) != 0
        if self._on_cpu:
            if bool(bad.any()):
                mats, inv_k_bad = self._volume_matrices(ids[bad])
                # Eigenvalues of the volume matrix (k times these) >= 1.
                eig = torch.maximum(torch.linalg.eigvalsh(mats),
                                    inv_k_bad[:, None])
                half_logdet[bad] = 0.5 * eig.log().sum(-1)
        else:
            half_logdet = torch.where(bad, torch.nan, half_logdet)
        half_logdet -= (0.5 * self.dim) * inv_k.log()
        n = self.counts[ids]
        return torch.where(n > 1.5, half_logdet / _LN2, 0.0)

    def volumes(self) -> Tensor:
        """``(C,)`` float64 volume of every class (0 below 2 samples)."""
        stale = self._stale_volumes
        if stale is None or self._stale_volumes_n >= self.num_classes:
            for i in range(0, self.num_classes, _VOLUME_BLOCK):
                ids = torch.arange(i, min(i + _VOLUME_BLOCK,
                                          self.num_classes),
                                   device=self.device)
                self._volumes[ids] = self._class_volumes(ids)
        elif stale:
            ids, _ = self._changed(stale)
            # Repeated classes write the same value twice.
            self._volumes[ids] = self._class_volumes(ids)
        self._stale_volumes, self._stale_volumes_n = [], 0
        return self._volumes.clone()

    def present(self) -> Tensor:
        """Classes with at least one sample in the pool."""
        return self.counts > 0.5

    def centres(self) -> Tensor:
        return self.sums / self.counts.clamp_min(1)[:, None]

    def distance_sums(self) -> Tensor:
        """For every present class, the summed distance from its centre to
        all present class centres (float32 distances summed in float64,
        see the module docstring); updated for the changed classes only."""
        stale = self._stale_centres
        present, centres = self.present(), self.centres()
        # The reference point of the float32 distances: the mean centre.
        weight = present.double()
        ref = (weight @ centres) / weight.sum().clamp_min(1)
        if stale is None or self._stale_centres_n >= self.num_classes:
            # Most classes may have moved: one full pass is cheaper.
            ids = torch.arange(self.num_classes, device=self.device)
            # Old centres = new ones: every distance is computed directly.
            self._update_distance_sums(ids, present, centres, ref,
                                       centres, present, weight * 0)
        elif stale:
            ids, first = self._changed(stale)
            self._update_distance_sums(ids, first, centres, ref,
                                       self._centres[ids],
                                       self._centres_present[ids],
                                       self._distance_sums)
        self._centres.copy_(centres)
        self._centres_present.copy_(present)
        self._stale_centres, self._stale_centres_n = [], 0
        return self._distance_sums.clone()

    def _update_distance_sums(self, ids: Tensor, first: Tensor,
                              centres: Tensor, ref: Tensor, old: Tensor,
                              old_present: Tensor, sums: Tensor) -> None:
        """Move the classes ``ids`` from their ``old`` centres to their
        current ones in the distance sums ``sums`` (all classes).

        Every class ``j`` gains ``d(new_i, o_j) - d(old_i, o_j)`` for each
        moved class ``i`` (present before and after; an appearing class adds
        its new distances, a vanishing one removes its old ones); the moved
        classes' own sums are recomputed over all present centres. With
        ``t = d_new^2 - d_old^2 = 2 delta . (old - o_j) + |delta|^2`` the
        change is ``t / (d_new + d_old)``, whose float32 rounding is relative
        to the change, not to the distance.
        """
        present = self.present()
        new_present = present[ids]
        f32 = torch.float32
        new = centres[ids]
        # A class that appears or vanishes has no old (new) centre: it
        # keeps one centre (delta 0) and its distances are added (removed)
        # directly, see ``w_swap`` below.
        moved = (new_present & old_present)[:, None]
        o = torch.where(old_present[:, None], old, new) - ref
        delta = torch.where(moved, new - old, 0.)
        on = (o * o).sum(1, keepdim=True).to(f32)
        t0 = (2 * (delta * o).sum(1) + (delta * delta).sum(1))[:, None]
        o, delta, t0 = o.to(f32), delta.to(f32), t0.to(f32)
        cols = (centres - ref).to(f32)
        cn = (cols * cols).sum(1)
        keep = first.to(f32)
        w_change = keep * new_present.to(f32)
        w_swap = keep * (new_present.to(f32) - old_present.to(f32))
        weight = present.to(f32)
        # A class's distance to itself is 0, but float32 rounding of
        # |a|^2 + |a|^2 - 2 a.a is not, and its square root is about
        # 3e-4 |a|: these entries are taken out of the row sums.
        self_weight = weight[ids]
        col_sums = torch.empty_like(sums)
        row_sums = torch.zeros_like(sums[ids])
        for s in range(0, self.num_classes, _DIST_COLS):
            e = min(s + _DIST_COLS, self.num_classes)
            block = cols[s:e].T
            d_old = torch.addmm(on, o, block, alpha=-2).add_(cn[s:e])
            d_old.clamp_min_(0)
            t = torch.addmm(t0, delta, block, alpha=-2)
            d_new = (d_old + t).clamp_min_(0).sqrt_()
            d_old.sqrt_()
            at = ids - s
            inside = (at >= 0) & (at < e - s)
            own = d_new.gather(1, at.clamp(0, e - s - 1)[:, None])[:, 0]
            row_sums += (d_new @ weight[s:e] -
                         own * inside * self_weight).double()
            col = w_swap @ d_old
            t.div_(d_old.add_(d_new).clamp_min_(1e-30))
            col_sums[s:e] = col.addmv_(t.T, w_change).double()
        out = self._distance_sums
        if out is not sums:
            out.copy_(sums)
        out += col_sums
        out[ids] = row_sums
        out.mul_(present)

    def state_dict(self) -> Dict[str, Union[Tensor, int]]:
        """The pool as plain tensors and integers, oldest sample first
        (void rows are not saved)."""
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
        if 'keys' in state:
            raise ValueError('the saved bank is a per-sample bank (it holds '
                             'sample keys), not a FIFO queue')
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
        self._invalidate()
        return self
