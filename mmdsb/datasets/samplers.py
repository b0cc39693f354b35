"""Re-sampling for classifier re-training: the CBEN sampler
(class-based effective-number re-sampling, thesis eqs. 5.13-5.15) and the
class-aware (class-balanced) sampler of the decoupling paper."""
import math
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.registry import DATA_SAMPLERS
from torch import Tensor
from torch.utils.data import Sampler

from ..guards import check_class_counts, positive_int

__all__ = ['CBENSampler', 'ClassAwareSampler', 'cben_class_probabilities']


def cben_class_probabilities(counts: Sequence[float], a: float = 0.999,
                             b: float = 0.0009) -> Tensor:
    """``gamma_j`` of eqs. 5.13-5.15 (float64, summing to 1)::

        delta_j = log n_max - log n_j
        beta_j  = b * (delta_j - delta_min) / (delta_max - delta_min) + a
        gamma_j = (1 - beta_j) / (1 - beta_j ** n_j),  normalised

    so ``beta`` runs from ``a`` (head) to ``a + b`` (tail); with equal
    counts every ``beta_j = a``.
    """
    n = check_class_counts(counts, owner='CBENSampler')
    if not (0 <= a and b >= 0 and a + b < 1):
        raise ValueError(f'CBENSampler: need 0 <= a, 0 <= b and a + b < 1, '
                         f'got a={a}, b={b}')
    delta = n.max().log() - n.log()
    spread = delta.max() - delta.min()
    unit = (delta - delta.min()) / spread if spread > 0 else delta * 0
    beta = b * unit + a
    gamma = (1 - beta) / (1 - beta.pow(n))
    return gamma / gamma.sum()


def _labels(dataset) -> np.ndarray:
    if hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels(), dtype=np.int64)
    return np.asarray([dataset.get_cat_ids(i)[0] for i in range(len(dataset))],
                      dtype=np.int64)


@DATA_SAMPLERS.register_module()
class CBENSampler(Sampler):
    """Draws samples with replacement, sample ``i`` with probability
    proportional to ``gamma_{y_i}`` (:func:`cben_class_probabilities` of the
    dataset's own label counts).

    The thesis calls ``gamma_j`` "the sampling probability of a sample
    from class j"; as in the authors' code it is used per sample, so class
    ``j`` is drawn with probability ``n_j gamma_j / sum_k n_k gamma_k``.
    One epoch draws ``num_samples`` indices (default: the dataset size).

    Deterministic: epoch ``e`` uses a generator seeded with ``seed + e``
    (``seed`` synchronised over ranks when unset). Distributed: every rank
    draws the same sequence, padded to a multiple of the world size, and
    keeps every ``world_size``-th index from its rank on.

    Args:
        dataset: dataset with ``get_gt_labels()`` or ``get_cat_ids(i)``.
        a, b: CBEN constants (0.999, 0.0009).
        num_samples: indices per epoch over all ranks.
        seed: random seed.
    """

    def __init__(self,
                 dataset,
                 a: float = 0.999,
                 b: float = 0.0009,
                 num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        labels = _labels(dataset)
        classes = dataset.metainfo.get('classes') if hasattr(
            dataset, 'metainfo') else None
        num_classes = max(len(classes) if classes else 0,
                          int(labels.max()) + 1)
        counts = np.bincount(labels, minlength=num_classes)
        present = counts > 0
        # Classes absent from the dataset cannot be drawn; the probabilities
        # are built from the classes that are present.
        gamma = np.zeros(num_classes)
        gamma[present] = cben_class_probabilities(counts[present], a,
                                                  b).numpy()
        self.class_probabilities = torch.from_numpy(gamma)
        self.weights = torch.from_numpy(gamma[labels])
        self.dataset = dataset
        n = len(dataset) if num_samples is None else positive_int(
            num_samples, 'num_samples', 'CBENSampler')
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.total_size = math.ceil(n / self.world_size) * self.world_size
        self.num_samples = self.total_size // self.world_size
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        idx = torch.multinomial(self.weights, self.total_size,
                                replacement=True, generator=g)
        return iter(idx[self.rank:self.total_size:self.world_size].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class ClassAwareSampler(Sampler):
    """Class-balanced sampling: every class is drawn equally often,
    whatever its number of images.

    This is the class-balanced sampling (``q = 0`` in ``p_j ~ n_j^q``) of
    Kang et al., *Decoupling Representation and Classifier for Long-Tailed
    Recognition*, ICLR 2020, used to re-train the classifier (cRT, LWS) on
    a fixed representation; it follows the ``ClassAwareSampler`` of the
    authors' code. One epoch emits ``num_samples`` indices built as:

    * the class sequence is a concatenation of fresh random permutations of
      the classes present in the dataset (classes with no image are never
      drawn), so over any ``k`` consecutive permutations each class gets
      exactly ``k`` slots;
    * each class slot takes the next ``num_samples_cls`` images of that
      class from a cyclic list of the class's images, shuffled anew each
      time it is exhausted: within a class every image is used once before
      any is repeated.

    Deterministic: epoch ``e`` draws everything from one
    ``torch.Generator`` seeded with ``seed + e`` (``seed`` synchronised
    over ranks when unset). Distributed: every rank draws the same
    sequence of ``ceil(num_samples / world_size) * world_size`` indices and
    keeps every ``world_size``-th index from its rank on, as
    :class:`CBENSampler` does; ``len(sampler)`` is the per-rank count.

    Args:
        dataset: dataset with ``get_gt_labels()`` or ``get_cat_ids(i)``.
        num_samples_cls: consecutive images taken per class slot.
            Defaults to 1.
        num_samples: indices per epoch over all ranks. Defaults to the
            dataset size.
        seed: random seed.
    """

    def __init__(self,
                 dataset,
                 num_samples_cls: int = 1,
                 num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        owner = type(self).__name__
        self.num_samples_cls = positive_int(num_samples_cls,
                                            'num_samples_cls', owner)
        if len(dataset) == 0:
            raise ValueError(f'{owner}: dataset is empty')
        n = len(dataset) if num_samples is None else positive_int(
            num_samples, 'num_samples', owner)
        labels = _labels(dataset)
        if labels.min() < 0:
            raise ValueError(f'{owner}: dataset has a negative label '
                             f'{int(labels.min())}')
        self.dataset = dataset
        # Present classes in ascending order, and each one's image indices.
        self.classes = np.unique(labels)
        order = np.argsort(labels, kind='stable')
        bounds = np.searchsorted(labels[order], self.classes)
        self.class_indices = [
            torch.from_numpy(part)
            for part in np.split(order, bounds[1:])
        ]
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.total_size = math.ceil(n / self.world_size) * self.world_size
        self.num_samples = self.total_size // self.world_size
        self.epoch = 0

    def _global_indices(self) -> list:
        """The ``total_size`` indices of this epoch, shared by all ranks."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        num_classes = len(self.class_indices)
        cycles = [[] for _ in range(num_classes)]  # current shuffled list
        pos = [0] * num_classes
        out = []
        while len(out) < self.total_size:
            for c in torch.randperm(num_classes, generator=g).tolist():
                members = self.class_indices[c]
                for _ in range(self.num_samples_cls):
                    if pos[c] == len(cycles[c]):
                        perm = torch.randperm(len(members), generator=g)
                        cycles[c] = members[perm].tolist()
                        pos[c] = 0
                    out.append(cycles[c][pos[c]])
                    pos[c] += 1
                if len(out) >= self.total_size:
                    break
        return out[:self.total_size]

    def __iter__(self) -> Iterator[int]:
        idx = self._global_indices()
        return iter(idx[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
