"""From the feature bank to per-class DSB loss weights."""
import copy
import math
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.registry import TASK_UTILS
from torch import Tensor

from ..feature_bank import FeatureBank
from ..guards import positive_int
from ..sample_bank import SampleBank
from ..semantic_scale import USABLE_RTOL
from .channel_pooling import pool_channels
from .gather import gather_rows
from .measure import SemanticScaleMeasure
from .reducer import DSBWeightReducer
from .stages import DSBStage
from .warning_counts import WarningCounts

__all__ = ['SemanticScaleWeighter']


@TASK_UTILS.register_module()
class SemanticScaleWeighter:
    """Keeps the storage pool and turns it into DSB class weights.

    Every training iteration, :meth:`observe` takes the batch's pre-logit
    features and labels and runs four named steps: it pools the features
    to ``bank_dim`` channels (:func:`pool_channels`, paper App. F.2),
    gathers them from all ranks (:func:`gather_rows`), pushes them into the
    bank (the memory, :class:`FeatureBank`) and, in the re-weighting stage,
    returns the per-class weights ``a``: the bank's semantic scales
    (:class:`SemanticScaleMeasure`) turned into weights
    (:class:`DSBWeightReducer`).

    One code path serves every device, and on a GPU it queues without
    stopping the host: the stage is known to the host, rows to keep out of
    the bank (padding, non-finite features) travel as a mask
    (:meth:`FeatureBank.push`), the formulas use masks instead of indexing,
    and the warnings are counted where they arise and logged when DSBHook
    asks for the counts (:meth:`pop_warning_counts`). Under data-parallel
    training the batch sizes of the ranks are exchanged once per iteration.

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
        if max_weight_ratio is not None and not max_weight_ratio >= 1:
            raise ValueError(
                f'max_weight_ratio must be >= 1, got {max_weight_ratio}')
        if not 0 <= usable_rtol < 1:
            raise ValueError(
                f'usable_rtol must lie in [0, 1), got {usable_rtol}')
        self.alpha, self.interclass, self.eps = alpha, interclass, eps
        self.normalize = normalize
        self.bank_dim = positive_int(bank_dim, 'bank_dim')
        self.max_weight_ratio = max_weight_ratio
        self.usable_rtol = float(usable_rtol)
        self.measure = SemanticScaleMeasure(alpha, interclass,
                                            self.usable_rtol)
        self.reducer = DSBWeightReducer(normalize, max_weight_ratio,
                                        self.usable_rtol)
        self.bank: Optional[FeatureBank] = None
        self.feat_dim: Optional[int] = None
        # DSBHook sets the stage from the bank's fill state and the warm-up.
        self.stage = DSBStage.FILL
        # Per row of this rank's batch, whether it is a real sample rather
        # than the sampler's padding (None: all); set by DSBHook per
        # iteration for a FIFO bank.
        self.kept_rows: Optional[Sequence[bool]] = None
        # For a per-sample bank: the first bank key of each sample of this
        # rank's batch, set by DSBHook per iteration.
        self.batch_keys: Optional[Tensor] = None
        self.warnings = WarningCounts()

    def __deepcopy__(self, memo) -> 'SemanticScaleWeighter':
        # A model copy shares the pool; see the class docstring.
        return self

    def fresh_copy(self) -> 'SemanticScaleWeighter':
        """A weighter with the same settings and no pool."""
        new = copy.copy(self)
        new.bank, new.feat_dim, new.stage = None, None, DSBStage.FILL
        new.kept_rows, new.batch_keys = None, None
        new.warnings = WarningCounts()
        return new

    def init_bank(self, capacity: int, num_classes: int,
                  device: torch.device) -> None:
        """A FIFO pool of the last ``capacity`` samples (the paper's)."""
        self.bank = FeatureBank(capacity, self.bank_dim, num_classes,
                                self.eps, device)

    def init_sample_bank(self, num_samples: int, num_classes: int,
                         device: torch.device) -> None:
        """A pool of the latest feature of each of ``num_samples``
        samples."""
        self.bank = SampleBank(num_samples, self.bank_dim, num_classes,
                               self.eps, device)

    @property
    def per_sample(self) -> bool:
        return isinstance(self._bank(), SampleBank)

    @property
    def num_classes(self) -> int:
        return self._bank().num_classes

    def _bank(self) -> FeatureBank:
        if self.bank is None:
            raise RuntimeError(
                'the DSB feature bank is not set up: add '
                "dict(type='DSBHook') to custom_hooks of the config")
        return self.bank

    # --------------------------------------------------------- the step
    def observe(self,
                feats: Tensor,
                labels: Tensor,
                batch_ids: Optional[Tensor] = None,
                instance_ids: Optional[Tensor] = None) -> Optional[Tensor]:
        """Feed one training batch; return ``(C,)`` class weights in the
        re-weighting stage, ``None`` before it.

        Args:
            feats: ``(n, ...)`` pre-logit features, one row per bank entry.
            labels: ``(n,)`` class indices.
            batch_ids: ``(n,)`` position in this rank's batch of the sample
                each row comes from. Given, the rows of samples that the
                sampler added as padding (see ``kept_rows``) stay out of
                a FIFO bank; ``None`` keeps every row. A per-sample bank
                needs them to find each row's key.
            instance_ids: ``(n,)`` index of each row among the rows of its
                sample (detection: the ground-truth instance in its
                image), added to the sample's first key in a per-sample
                bank; ``None``: one row per sample.
        """
        # The head's loss may run under AMP; the bank's float32 distances
        # and float64 statistics must not be cast down to fp16/bf16.
        device = feats.device.type
        if torch.amp.is_autocast_available(device):
            with torch.autocast(device, enabled=False):
                return self._observe(feats, labels, batch_ids, instance_ids)
        return self._observe(feats, labels, batch_ids, instance_ids)

    def _observe(self, feats: Tensor, labels: Tensor,
                 batch_ids: Optional[Tensor],
                 instance_ids: Optional[Tensor]) -> Optional[Tensor]:
        bank = self._bank()
        self._check_feature_dim(feats)
        x = pool_channels(feats, self.bank_dim)
        if isinstance(bank, SampleBank):
            # A repeated sample overwrites its own slot: no padding mask.
            keys = self._row_keys(batch_ids, instance_ids, x.device)
            x, y, _, keys = gather_rows(x, labels.to(x.device), keys=keys)
            valid = self._finite(x)
            bank.push(torch.where(valid[:, None], x, 0.), y, keys, valid)
        else:
            x, y, kept, _ = gather_rows(x, labels.to(x.device),
                                        self._kept(batch_ids, x.device))
            self._check_room(x.shape[0])
            finite = self._finite(x)
            valid = finite if kept is None else finite & kept
            bank.push(torch.where(finite[:, None], x, 0.), y, valid=valid)
        if self.stage < DSBStage.REWEIGHT:
            return None
        return self.class_weights()

    def _finite(self, x: Tensor) -> Tensor:
        """Per row, whether its features are finite; the others are
        counted for the log."""
        finite = torch.isfinite(x).all(dim=1)
        bad = (~finite).sum()
        self.warnings.add('nonfinite_batches', bad > 0)
        self.warnings.add('nonfinite_features', bad)
        return finite

    def _row_keys(self, batch_ids: Optional[Tensor],
                  instance_ids: Optional[Tensor],
                  device: torch.device) -> Tensor:
        """Per row, its slot in the per-sample bank."""
        if batch_ids is None or self.batch_keys is None:
            raise RuntimeError(
                'a per-sample DSB bank needs the batch position of every '
                'row (batch_ids) and the keys of the batch, which DSBHook '
                'sets before each iteration')
        keys = self.batch_keys.to(device, non_blocking=True)[batch_ids.to(
            device)]
        if instance_ids is not None:
            keys = keys + instance_ids.to(device)
        return keys

    def _check_room(self, n: int) -> None:
        capacity = self._bank().capacity
        if n > capacity:
            raise ValueError(
                f'one iteration brings {n} samples (all ranks) but the DSB '
                f'feature bank holds only {capacity}: raise capacity in '
                'DSBHook (default: the samples of one epoch) or lower the '
                'batch size')

    def _check_feature_dim(self, feats: Tensor) -> None:
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

    def _kept(self, batch_ids: Optional[Tensor],
              device: torch.device) -> Optional[Tensor]:
        """Per row, whether its sample is not the sampler's padding."""
        if batch_ids is None or self.kept_rows is None:
            return None
        kept = torch.as_tensor(self.kept_rows, dtype=torch.bool,
                               device=device)
        return kept[batch_ids.to(device)]

    # ------------------------------------------------ scales and weights
    def semantic_scales(self) -> Tensor:
        """``(C,)`` semantic scales ``S`` of the classes in the bank."""
        return self.measure(self._bank())

    def usable_volumes(self) -> Tensor:
        """``(C,)`` bool: classes whose volume is usable (``usable_rtol``)."""
        return self.measure.usable_volumes(self._bank())

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
        if record:
            missing = self.reducer.missing(scales)
            self.warnings.add('fallback_weights', missing.any())
            self.warnings.add('fallback_classes', missing)
            self.warnings.add('capped_weights', self.reducer.capped(scales))
        return self.reducer(scales)

    # ---------------------------------------------------------- warnings
    def pop_warning_counts(self):
        """The warning counts since the last call, then reset them."""
        return self.warnings.pop(self._say_first)

    def _say_first(self, pending: Dict[str, Tensor]) -> None:
        """Log the first occurrence of each warning counted since the
        last summary."""
        get = (lambda key: int(pending[key]) if key in pending else 0)
        if get('nonfinite_batches'):
            self.warnings.say_once(
                'nonfinite_batches',
                f"DSB: {get('nonfinite_features')} features in "
                f"{get('nonfinite_batches')} batches are NaN or inf; "
                'they are kept out of the feature bank')
        if get('fallback_weights'):
            ids = pending['fallback_classes'].reshape(-1).nonzero()
            self._say_fallback(ids.flatten().tolist())
        if get('capped_weights'):
            self.warnings.say_once(
                'capped_weights',
                'DSB: the semantic scales span more than max_weight_ratio='
                f'{self.max_weight_ratio:g}; the weights of the classes '
                f'with the smallest scales are capped at '
                f'{self.max_weight_ratio:g} times the smallest weight, so '
                'that a nearly collapsed class cannot take the weight of '
                'all others')

    def _say_fallback(self, ids: List[int]) -> None:
        shown = ', '.join(map(str, ids[:20])) + (
            ', ...' if len(ids) > 20 else '')
        self.warnings.say_once(
            'fallback_weights',
            f'DSB: {len(ids)} classes have no usable semantic scale '
            '(fewer than 2 samples in the bank, or features collapsed '
            f'to a volume below {self.usable_rtol:g} of the largest); '
            'they get the largest weight among the other classes '
            f'(or 1 if none has a scale). Classes: {shown}')

    # -------------------------------------------------------- checkpoint
    def state_dict(self) -> Dict:
        return dict(bank=self._bank().state_dict(), feat_dim=self.feat_dim)

    def load_state_dict(self, state: Dict) -> None:
        self._bank().load_state_dict(state['bank'])
        self.feat_dim = state.get('feat_dim')
