"""The two training environments of Invariant Feature Learning (IFL)."""
import math
from typing import Iterator, Optional

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .samplers import _labels

__all__ = ['IFLEnvSampler']


@DATA_SAMPLERS.register_module()
class IFLEnvSampler(Sampler):
    """Yields IFL's two environments as one interleaved stream ``a_1, b_1,
    a_2, b_2, ...``: ``a_k`` drawn from the instance-balanced environment
    (every image with the same probability) and ``b_k`` from the
    re-weighted one (image ``i`` with probability proportional to
    ``env_weights[i]``), both with replacement, as the released code's
    ``DistributionSampler`` does.

    With an even ``batch_size`` every batch is half of each environment,
    the released code's split of its batch of 256 into 128 + 128. One epoch
    draws ``len(dataset)`` images from each environment (the length of
    each of the code's two loaders), so ``len(sampler)`` is twice the
    number of pairs of this rank. ``env_weights`` start uniform; ``IFLHook``
    replaces them at its milestones (:meth:`set_env_weights`).

    Deterministic: epoch ``e`` draws from one generator seeded with
    ``seed + e`` (``seed`` synchronised over ranks when unset).
    Distributed: every rank draws the same pairs, padded to a multiple of
    the world size, and keeps every ``world_size``-th pair from its rank on.

    Args:
        dataset: dataset with ``get_gt_labels()`` or ``get_cat_ids(i)``.
        seed: random seed.
    """

    def __init__(self, dataset, seed: Optional[int] = None):
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.labels = torch.as_tensor(_labels(dataset))
        n = len(dataset)
        if n < 1:
            raise ValueError('IFLEnvSampler: the dataset is empty')
        self.rank, self.world_size = get_dist_info()
        self.total_pairs = math.ceil(n / self.world_size) * self.world_size
        self.num_pairs = self.total_pairs // self.world_size
        self.env_weights = torch.ones(n, dtype=torch.float64)
        self.epoch = 0

    def set_env_weights(self, weights) -> None:
        """Sampling weights of the re-weighted environment, one per image
        (finite, >= 0, not all 0; they need not sum to 1)."""
        w = torch.as_tensor(weights, dtype=torch.float64).detach().cpu()
        n = len(self.labels)
        if w.shape != (n, ):
            raise ValueError(f'IFLEnvSampler: need {n} environment weights '
                             f'(one per image), got shape {tuple(w.shape)}')
        if not bool(torch.isfinite(w).all() and (w >= 0).all()) \
                or w.sum() <= 0:
            raise ValueError('IFLEnvSampler: environment weights must be '
                             'finite, >= 0 and not all 0')
        self.env_weights = w.clone()

    def pairs(self):
        """``(instance_balanced, reweighted)`` index tensors of this epoch,
        shared by all ranks (``total_pairs`` each)."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        uniform = torch.ones(len(self.labels), dtype=torch.float64)
        first = torch.multinomial(uniform, self.total_pairs,
                                  replacement=True, generator=g)
        second = torch.multinomial(self.env_weights, self.total_pairs,
                                   replacement=True, generator=g)
        return first, second

    def __iter__(self) -> Iterator[int]:
        first, second = self.pairs()
        step = slice(self.rank, self.total_pairs, self.world_size)
        return iter(torch.stack([first[step], second[step]],
                                dim=1).flatten().tolist())

    def __len__(self) -> int:
        return 2 * self.num_pairs

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
