"""From the feature bank to per-class DSB loss weights."""
import copy
import math
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.logging import print_log
from mmengine.registry import TASK_UTILS
from torch import Tensor

from ..feature_bank import FeatureBank
from ..semantic_scale import (USABLE_RTOL, check_labels, dsb_weights,
                              scales_from_volumes, usable)

__all__ = ['SemanticScaleWeighter']


def _gather_rows(feats: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
    """Concatenate every rank's rows in rank order (batches may differ in
    size), so that all ranks see the same global batch.

    The batch sizes are exchanged first: the one host read of the update
    under data-parallel training, unavoidable while ranks may hold batches
    of different sizes (detection: instances per image)."""
    if get_world_size() == 1:
        return feats, labels
    n = feats.shape[0]
    sizes = [int(s) for s in all_gather(labels.new_tensor([n]))]
    pad = max(sizes) - n
    feats = F.pad(feats, (0, 0, 0, pad))
    labels = F.pad(labels, (0, pad))
    all_feats, all_labels = all_gather(feats), all_gather(labels)
    return (torch.cat([f[:s] for f, s in zip(all_feats, sizes)]),
            torch.cat([lb[:s] for lb, s in zip(all_labels, sizes)]))


def _usable(values: Tensor, rtol: float) -> Tensor:
    """:func:`mmdsb.semantic_scale.usable` without host reads."""
    finite = torch.isfinite(values)
    top = torch.where(finite, values, -math.inf).max()
    return finite & (values > 0) & (values > rtol * top)


def _scales(volumes: Tensor, distance_sums: Optional[Tensor],
            present: Optional[Tensor], alpha: float, interclass: bool,
            rtol: float) -> Tensor:
    """:func:`mmdsb.semantic_scale.scales_from_volumes` without host
    reads: masks and ``where`` instead of indexing and branches."""
    valid = _usable(volumes, rtol)
    top = torch.where(valid, volumes, -math.inf).max()
    scales = torch.where(valid, volumes / top, 0.)
    if not interclass:
        return scales
    w = torch.where(present, distance_sums, 0.)
    w_max = w.max()
    w_norm = torch.where(w_max > 0, w / w_max, 0.)
    return scales * torch.log2(alpha + w_norm)


def _weights(scales: Tensor, normalize: str, max_ratio: Optional[float],
             rtol: float) -> Tensor:
    """:func:`mmdsb.semantic_scale.dsb_weights` without host reads."""
    valid = _usable(scales, rtol)
    inv = torch.where(valid, 1.0 / torch.where(valid, scales, 1.0), 0.0)
    weights = torch.where(valid, inv, inv.max())
    weights = torch.where(valid.any(), weights, 1.0)
    if max_ratio is not None:
        weights = torch.minimum(weights, weights.min() * max_ratio)
    if normalize == 'mean':
        return weights * (weights.numel() / weights.sum())
    return weights / weights.sum()


@TASK_UTILS.register_module()
class SemanticScaleWeighter:
    """Keeps the storage pool and turns it into DSB class weights.

    Every training iteration, :meth:`observe` takes the batch's pre-logit
    features and labels: it pools the features to ``bank_dim`` channels
    (1-D average pooling, paper App. F.2), gathers them from all ranks,
    pushes them into the bank and, in the re-weighting stage, returns the
    per-class weights ``a`` computed from the updated bank.

    On a GPU the update queues without stopping the host: the stage is
    known to the host, rows to keep out of the bank (padding, non-finite
    features) are masked rather than removed (:meth:`FeatureBank.push`),
    the weights are computed with masks instead of indexing, and the
    warnings are counted on the device and logged when DSBHook asks for
    the counts (:meth:`pop_warning_counts`). Under data-parallel training
    the batch sizes of the ranks are exchanged once per iteration.

    A copy of a model (EMA, ``copy.deepcopy``) shares its consumers'
    weighter instead of duplicating the pool: there is one pool per
    training run. :meth:`fresh_copy` makes an independent weighter with the
    same settings and no pool.

    Args:
        alpha: smoothing of the inter-class weight ``W = log2(alpha + W')``,
            ``alpha >= 1``: 2 for long-tailed, 1 for sample-balanced data.
        interclass: use the inter-class weight; ``False`` gives ``S = S'``.
        eps: radius of the packing spheres in the volume (``eps > 0``).
        normalize: ``'mean'`` (weights average 1) or ``'sum'`` (the
            paper's weights that sum to 1, which divides the loss by ``C``).
        bank_dim: dimension of the stored features; larger pre-logits are
            reduced to it by 1-D average pooling over channels.
        max_weight_ratio: cap on the ratio of the largest to the smallest
            class weight (``None``: no cap). The default 10 keeps a class
            whose features nearly collapsed (a volume of 1e-4 of the
            largest still counts as usable) from taking the weight of all
            others, and leaves real classes alone: their scales span a
            factor of about 2 to 5. The log says when it acts.
        usable_rtol: a class has a usable volume (and scale) only above
            this fraction of the largest one; below it the class counts as
            collapsed and gets the largest weight of the others.
    """

    def __init__(self,
                 alpha: float = 2.0,
                 interclass: bool = True,
                 eps: float = 1.0,
                 normalize: str = 'mean',
                 bank_dim: int = 64,
                 max_weight_ratio: Optional[float] = 10.0,
                 usable_rtol: float = USABLE_RTOL):
        if not (alpha >= 1 and math.isfinite(alpha)):
            raise ValueError(f'alpha must be >= 1, got {alpha}')
        if not (eps > 0 and math.isfinite(eps)):
            raise ValueError(f'eps must be > 0, got {eps}')
        if normalize not in ('mean', 'sum'):
            raise ValueError(
                f"normalize must be 'mean' or 'sum', got {normalize!r}")
        if int(bank_dim) != bank_dim or bank_dim < 1:
            raise ValueError(
                f'bank_dim must be a positive integer, got {bank_dim}')
        if max_weight_ratio is not None and not max_weight_ratio >= 1:
            raise ValueError(
                f'max_weight_ratio must be >= 1, got {max_weight_ratio}')
        if not 0 <= usable_rtol < 1:
            raise ValueError(
                f'usable_rtol must lie in [0, 1), got {usable_rtol}')
        self.alpha, self.interclass, self.eps = alpha, interclass, eps
        self.normalize, self.bank_dim = normalize, int(bank_dim)
        self.max_weight_ratio = max_weight_ratio
        self.usable_rtol = float(usable_rtol)
        self.bank: Optional[FeatureBank] = None
        self.feat_dim: Optional[int] = None
        # 1: fill the pool; 2: also dequeue; 3: also re-weight (SPEC 4).
        # DSBHook sets it from the pool's fill state and the warm-up.
        self.stage = 1
        # Per row of this rank's batch, whether it is a real sample rather
        # than the sampler's padding (None: all); set by DSBHook per
        # iteration.
        self.kept_rows: Optional[Sequence[bool]] = None
        # Warnings are logged once in full and counted every time; DSBHook
        # logs the counts once per epoch (see :meth:`pop_warning_counts`).
        self.warning_counts: Counter = Counter()
        self._warned = set()
        # Off the CPU: warnings counted on the device, read by
        # pop_warning_counts (see _count).
        self._pending: Optional[Tensor] = None

    def __deepcopy__(self, memo) -> 'SemanticScaleWeighter':
        # A model copy shares the pool; see the class docstring.
        return self

    def fresh_copy(self) -> 'SemanticScaleWeighter':
        """A weighter with the same settings and no pool."""
        new = copy.copy(self)
        new.bank, new.feat_dim, new.stage = None, None, 1
        new.kept_rows = None
        new.warning_counts, new._warned = Counter(), set()
        new._pending = None
        return new

    def init_bank(self, capacity: int, num_classes: int,
                  device: torch.device) -> None:
        self.bank = FeatureBank(capacity, self.bank_dim, num_classes,
                                self.eps, device)

    @property
    def num_classes(self) -> int:
        self._check_bank()
        return self.bank.num_classes

    def _check_bank(self) -> None:
        if self.bank is None:
            raise RuntimeError(
                'the DSB feature bank is not set up: add '
                "dict(type='DSBHook') to custom_hooks of the config")

    def _warn(self, key: str, message: str, count: int = 1) -> None:
        """Count a warning; log it in full the first time only."""
        self.warning_counts[key] += count
        if key not in self._warned:
            self._warned.add(key)
            print_log(message + ' (said once; DSBHook counts later '
                      'occurrences per epoch)', logger='current', level=30)

    def pop_warning_counts(self) -> Counter:
        """The warning counts since the last call, then reset them."""
        self._flush_device_counts()
        counts, self.warning_counts = self.warning_counts, Counter()
        return counts

    # Order of the counters kept on the device.
    _DEVICE_COUNTS = ('nonfinite_batches', 'nonfinite_features',
                      'fallback_weights', 'capped_weights')

    def _count(self, key: str, value: Tensor) -> None:
        """Add ``value`` to a warning count kept on the device."""
        if self._pending is None:
            self._pending = torch.zeros(
                len(self._DEVICE_COUNTS) + self.num_classes,
                dtype=torch.long, device=value.device)
        self._pending[self._DEVICE_COUNTS.index(key)] += value

    def _flush_device_counts(self) -> None:
        """Read the counts kept on the device (one host read) and log the
        first occurrence of each warning."""
        if self._pending is None:
            return
        pending, self._pending = self._pending.cpu(), None
        k = len(self._DEVICE_COUNTS)
        counts = dict(zip(self._DEVICE_COUNTS, pending[:k].tolist()))
        if counts['nonfinite_batches']:
            self._warn(
                'nonfinite_batches',
                f"DSB: {counts['nonfinite_features']} features in "
                f"{counts['nonfinite_batches']} batches were NaN or inf; "
                'they are kept out of the feature bank',
                counts['nonfinite_batches'])
            self.warning_counts['nonfinite_features'] += counts[
                'nonfinite_features']
        if counts['fallback_weights']:
            ids = pending[k:].nonzero().flatten().tolist()
            self._warn_fallback(ids, counts['fallback_weights'])
        if counts['capped_weights']:
            self._warn_capped(counts['capped_weights'])

    def reduce(self, feats: Tensor) -> Tensor:
        """Flatten pre-logits and pool them to ``bank_dim`` channels."""
        feats = feats.detach().flatten(1).float()
        n, width = feats.shape
        if width > self.bank_dim and width % self.bank_dim == 0:
            # Equal bins (2048 -> 64): the same average pooling as one mean
            # over groups of channels, about twice as fast as the adaptive
            # kernel.
            return feats.reshape(n, self.bank_dim,
                                 width // self.bank_dim).mean(-1)
        if width > self.bank_dim:
            feats = F.adaptive_avg_pool1d(feats[:, None],
                                          self.bank_dim)[:, 0]
        return feats

    def observe(self,
                feats: Tensor,
                labels: Tensor,
                batch_ids: Optional[Tensor] = None) -> Optional[Tensor]:
        """Feed one training batch; return ``(C,)`` class weights in the
        re-weighting stage, ``None`` before it.

        Args:
            feats: ``(n, ...)`` pre-logit features, one row per bank entry.
            labels: ``(n,)`` class indices.
            batch_ids: ``(n,)`` position in this rank's batch of the sample
                each row comes from. Given, the rows of samples that the
                sampler added as padding (see ``kept_rows``) stay out of
                the bank; ``None`` keeps every row.
        """
        # The head's loss may run under AMP; the bank's float32 distances
        # and float64 statistics must not be cast down to fp16/bf16.
        device = feats.device.type
        if torch.amp.is_autocast_available(device):
            with torch.autocast(device, enabled=False):
                return self._observe(feats, labels, batch_ids)
        return self._observe(feats, labels, batch_ids)

    def _observe(self, feats: Tensor, labels: Tensor,
                 batch_ids: Optional[Tensor]) -> Optional[Tensor]:
        self._check_bank()
        bank = self.bank
        # Off the CPU, nothing below reads device data on the host.
        sync_free = bank.device.type != 'cpu'
        if sync_free:
            bank._check_labels(labels, feats.shape[0])
        else:
            check_labels(labels, bank.num_classes, feats.shape[0])
        dim = feats[0].numel() if feats.shape[0] else None
        if self.feat_dim is None:
            if dim is not None and dim < self.bank_dim:
                raise ValueError(
                    f'pre-logit features have {dim} channels, fewer than '
                    f'bank_dim={self.bank_dim}; set bank_dim <= {dim}')
            self.feat_dim = dim
        elif dim is not None and dim != self.feat_dim:
            raise ValueError(
                f'the pre-logit feature dimension changed from '
                f'{self.feat_dim} to {dim} during training')
        x, y = self.reduce(feats), labels.to(feats.device)
        if batch_ids is not None and self.kept_rows is not None:
            kept = torch.as_tensor(self.kept_rows, dtype=torch.bool,
                                   device=feats.device)
            keep = kept[batch_ids.to(feats.device)]
            if sync_free:
                # Padding rows travel as label -1 (void in the bank).
                y = torch.where(keep, y, -1)
            else:
                x, y = x[keep], y[keep]
        x, y = _gather_rows(x, y)
        if x.shape[0] > bank.capacity:
            raise ValueError(
                f'one iteration brings {x.shape[0]} samples (all ranks) but '
                f'the DSB feature bank holds only {bank.capacity}: raise '
                'capacity in DSBHook (default: the samples of one epoch) or '
                'lower the batch size')
        finite = torch.isfinite(x).all(dim=1)
        if sync_free:
            bad = (~finite).sum()
            self._count('nonfinite_batches', (bad > 0).long())
            self._count('nonfinite_features', bad)
            valid = finite & (y >= 0)
            x = torch.where(finite[:, None], x, 0.)
            bank.push(x, y.clamp_min(0), valid=valid)
        elif not finite.all():
            bad = int((~finite).sum())
            self._warn(
                'nonfinite_batches',
                f'DSB: {bad} of {x.shape[0]} features in a batch are NaN '
                'or inf; they are kept out of the feature bank')
            self.warning_counts['nonfinite_features'] += bad
            x, y = x[finite], y[finite]
        if not sync_free:
            bank.push(x, y)
        if self.stage < 3:
            return None
        return self.class_weights()

    def semantic_scales(self) -> Tensor:
        """``(C,)`` semantic scales ``S`` of the classes in the bank."""
        self._check_bank()
        bank = self.bank
        if bank.device.type != 'cpu':
            return _scales(bank.volumes(),
                           bank.distance_sums() if self.interclass else None,
                           bank.present(), self.alpha, self.interclass,
                           self.usable_rtol)
        if not self.interclass:
            return scales_from_volumes(bank.volumes(), interclass=False,
                                       rtol=self.usable_rtol)
        return scales_from_volumes(bank.volumes(), bank.distance_sums(),
                                   bank.present(), self.alpha, True,
                                   self.usable_rtol)

    def usable_volumes(self) -> Tensor:
        """``(C,)`` bool: classes whose volume is usable (``usable_rtol``)."""
        self._check_bank()
        return usable(self.bank.volumes(), self.usable_rtol)

    def class_weights(self,
                      scales: Optional[Tensor] = None,
                      record: bool = True) -> Tensor:
        """``(C,)`` DSB weights; classes without a usable scale get the
        largest weight, and no weight exceeds ``max_weight_ratio`` times
        the smallest. With ``record`` (the training step), either case is
        said once in the log and counted every time; reports pass
        ``record=False`` so that they do not count as training steps."""
        if scales is None:
            scales = self.semantic_scales()
        if scales.device.type != 'cpu':
            if record:
                missing = ~_usable(scales, self.usable_rtol)
                self._count('fallback_weights', missing.any().long())
                self._count('capped_weights', self._capped(scales).long())
                self._pending[len(self._DEVICE_COUNTS):] += missing
            return _weights(scales, self.normalize, self.max_weight_ratio,
                            self.usable_rtol)
        if record:
            missing = ~usable(scales, self.usable_rtol)
            if missing.any():
                self._warn_fallback(missing.nonzero().flatten().tolist())
            if self._capped(scales):
                self._warn_capped()
        return dsb_weights(scales, self.normalize, self.max_weight_ratio,
                           self.usable_rtol)

    def _capped(self, scales: Tensor) -> Tensor:
        """Whether ``max_weight_ratio`` clips the weights of ``scales``:
        the largest usable scale exceeds the ratio times the smallest."""
        if self.max_weight_ratio is None:
            return torch.zeros((), dtype=torch.bool, device=scales.device)
        valid = _usable(scales, self.usable_rtol)
        top = torch.where(valid, scales, -math.inf).max()
        low = torch.where(valid, scales, math.inf).min()
        return valid.any() & (top > self.max_weight_ratio * low)

    def _warn_capped(self, count: int = 1) -> None:
        self._warn(
            'capped_weights',
            'DSB: the semantic scales span more than max_weight_ratio='
            f'{self.max_weight_ratio:g}; the weights of the classes with '
            f'the smallest scales are capped at {self.max_weight_ratio:g} '
            'times the smallest weight, so that a nearly collapsed class '
            'cannot take the weight of all others', count)

    def _warn_fallback(self, ids: List[int], count: int = 1) -> None:
        shown = ', '.join(map(str, ids[:20])) + (
            ', ...' if len(ids) > 20 else '')
        self._warn(
            'fallback_weights',
            f'DSB: {len(ids)} classes have no usable semantic scale '
            '(fewer than 2 samples in the bank, or features collapsed '
            f'to a volume below {self.usable_rtol:g} of the largest); '
            'they get the largest weight among the other classes '
            f'(or 1 if none has a scale). Classes: {shown}', count)

    def state_dict(self) -> Dict:
        self._check_bank()
        return dict(bank=self.bank.state_dict(), feat_dim=self.feat_dim)

    def load_state_dict(self, state: Dict) -> None:
        self._check_bank()
        self.bank.load_state_dict(state['bank'])
        self.feat_dim = state.get('feat_dim')
