"""The reversed sampler of BBN's re-balancing branch (Zhou et al., *BBN:
Bilateral-Branch Network with Cumulative Learning for Long-Tailed Visual
Recognition*, CVPR 2020, Sec. 4.2)."""
import math
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch import Tensor
from torch.utils.data import Sampler

from ..guards import positive_int
from .samplers import _labels

__all__ = ['ReversedSampler', 'reversed_class_probabilities']


def reversed_class_probabilities(counts) -> Tensor:
    """``p_c = (1 / N_c) / sum_j (1 / N_j)`` over the classes with
    ``N_c > 0`` (float64); a class without images gets 0."""
    n = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    if n.dim() != 1 or n.numel() == 0:
        raise ValueError(f'ReversedSampler: class counts must be a non-empty '
                         f'1-D sequence, got shape {tuple(n.shape)}')
    if (n < 0).any() or not (n > 0).any():
        raise ValueError('ReversedSampler: class counts must be >= 0 with at '
                         f'least one class > 0, got {n.tolist()}')
    inv = torch.where(n > 0, 1.0 / n.clamp(min=1), torch.zeros_like(n))
    return inv / inv.sum()


@DATA_SAMPLERS.register_module()
class ReversedSampler(Sampler):
    """Draws with replacement a class ``c`` with probability
    ``p_c = (1 / N_c) / sum_j (1 / N_j)``, then one of its ``N_c`` images
    uniformly: BBN's reversed sampler, so the rarest class is drawn most
    often. It is drawn as one categorical over the images, image ``i`` of
    class ``y_i`` with weight ``p_{y_i} / N_{y_i}`` (``weights``), which
    is the same distribution as the authors' two-step draw.

    One epoch draws ``num_samples`` indices (default: the dataset size).
    Deterministic: epoch ``e`` uses a generator seeded with ``seed + e``
    (``seed`` synchronised over ranks when unset). Distributed: every rank
    draws the same sequence, padded to a multiple of the world size, and
    keeps every ``world_size``-th index from its rank on, as
    :class:`CBENSampler` does.

    Args:
        dataset: dataset with ``get_gt_labels()`` or ``get_cat_ids(i)``.
        num_samples: indices per epoch over all ranks.
        seed: random seed.
    """

    def __init__(self,
                 dataset,
                 num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        owner = type(self).__name__
        if len(dataset) == 0:
            raise ValueError(f'{owner}: dataset is empty')
        labels = _labels(dataset)
        if labels.min() < 0:
            raise ValueError(f'{owner}: dataset has a negative label '
                             f'{int(labels.min())}')
        counts = np.bincount(labels)
        self.class_probabilities = reversed_class_probabilities(counts)
        counts = torch.from_numpy(counts).double()
        self.weights = (self.class_probabilities / counts.clamp(min=1))[
            torch.from_numpy(labels)]
        self.dataset = dataset
        n = len(dataset) if num_samples is None else positive_int(
            num_samples, 'num_samples', owner)
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.total_size = math.ceil(n / self.world_size) * self.world_size
        self.num_samples = self.total_size // self.world_size
        self.epoch = 0

    def draw(self, size: int, generator: torch.Generator) -> Tensor:
        """``size`` global indices drawn with ``generator``."""
        return torch.multinomial(self.weights, size, replacement=True,
                                 generator=generator)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        idx = self.draw(self.total_size, g)
        return iter(idx[self.rank:self.total_size:self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
