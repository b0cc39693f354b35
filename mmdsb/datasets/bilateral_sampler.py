"""The two samplers of BBN's bilateral branches, paired in one stream."""
import math
from typing import Iterator, Optional

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from .reversed_sampler import ReversedSampler

__all__ = ['BilateralSampler']


@DATA_SAMPLERS.register_module()
class BilateralSampler(Sampler):
    """Yields BBN's pairs as one interleaved stream ``u_1, r_1, u_2, r_2,
    ...``: ``u_k`` from the uniform sampler of the conventional branch (a
    shuffled pass over the dataset) and ``r_k`` from the
    :class:`ReversedSampler` of the re-balancing branch.

    One dataloader then carries both branches' images: with an even
    ``batch_size`` every batch holds ``batch_size / 2`` pairs, the even
    positions for the conventional branch and the odd ones for the
    re-balancing branch, which is how
    :class:`~mmdsb.models.BBNClassifier` splits it. The standard data
    preprocessor, collate function and mmengine loops apply unchanged. An
    epoch is one pass of the uniform sampler, as in the authors' code (each
    image of the uniform pass comes with one reversed draw), so
    ``len(sampler)`` is twice the number of pairs of this rank.

    Deterministic: epoch ``e`` draws the permutation and the reversed
    indices from one generator seeded with ``seed + e`` (``seed``
    synchronised over ranks when unset). Distributed: every rank draws the
    same pairs, padded to a multiple of the world size, and keeps every
    ``world_size``-th pair from its rank on.

    Args:
        dataset: dataset with ``get_gt_labels()`` or ``get_cat_ids(i)``.
        shuffle: shuffle the uniform pass (True, as in training).
        seed: random seed.
    """

    def __init__(self,
                 dataset,
                 shuffle: bool = True,
                 seed: Optional[int] = None):
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.reversed = ReversedSampler(dataset, seed=self.seed)
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.rank, self.world_size = get_dist_info()
        n = len(dataset)
        self.total_pairs = math.ceil(n / self.world_size) * self.world_size
        self.num_pairs = self.total_pairs // self.world_size
        self.epoch = 0

    def pairs(self):
        """``(uniform, reversed)`` index tensors of this epoch, shared by
        all ranks (``total_pairs`` each)."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        n = len(self.dataset)
        uniform = torch.randperm(n, generator=g) if self.shuffle \
            else torch.arange(n)
        # Padding repeats the pass from its start, as DefaultSampler does.
        uniform = uniform.repeat(math.ceil(self.total_pairs / n))
        return uniform[:self.total_pairs], self.reversed.draw(
            self.total_pairs, g)

    def __iter__(self) -> Iterator[int]:
        uniform, reverse = self.pairs()
        step = slice(self.rank, self.total_pairs, self.world_size)
        return iter(torch.stack([uniform[step], reverse[step]],
                                dim=1).flatten().tolist())

    def __len__(self) -> int:
        return 2 * self.num_pairs

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
