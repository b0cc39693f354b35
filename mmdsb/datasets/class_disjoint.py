"""Class-disjoint splits of the deep-metric-learning protocol (DSB paper,
Sec. 5.3 and App. D.5) and their long-tailed training sets.

The first ``M`` classes of a dataset (in its own class order) form the
training split and the remaining classes the test split; both splits are
labelled ``0 .. n - 1`` within themselves and ``metainfo['classes']``
lists the real names of the split's classes, so a classification head has
``M`` outputs and retrieval compares test images among themselves.

Long-tailed training sets (paper Fig. 8) keep, of training class ``i``
(0-based), ``n_i = floor(N_i * mu ** (i / (1 - M)))`` images, ``N_i``
being the number of images class ``i`` has, ``mu >= 1`` the imbalance
factor. Fig. 8 writes ``N`` for the largest class; Cars196's classes
differ in size, so a common ``N`` would ask more images of some classes
than they have, and ``N_i`` keeps the exponential shape on every class
(the largest kept class is then not exactly ``mu`` times the smallest).
On CIFAR-100 (600 images in every class) both readings agree. The kept
images are the first ``n_i`` of a ``numpy.random.RandomState(seed)``
permutation of each class's images (one generator, classes in order),
listed in file order. The test split is never reduced.
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset

__all__ = ['ClassDisjointDataset', 'disjoint_long_tailed_counts',
           'seeded_class_subset']


def check_imbalance_factor(imbalance_factor, owner: str) -> Optional[float]:
    """``None`` for a balanced set, else the factor as a float >= 1."""
    if imbalance_factor is None:
        return None
    if isinstance(imbalance_factor, bool) or not isinstance(
            imbalance_factor, (int, float)) or not math.isfinite(
                imbalance_factor) or imbalance_factor < 1:
        raise ValueError(f'{owner}: imbalance_factor must be None (balanced)'
                         f' or a finite number >= 1, got '
                         f'{imbalance_factor!r}')
    return float(imbalance_factor)


def disjoint_long_tailed_counts(available: Sequence[int],
                                imbalance_factor: Optional[float]
                                ) -> List[int]:
    """``floor(N_i * mu ** (i / (1 - M)))`` for the ``M`` classes with
    ``available[i] = N_i`` images; ``available`` itself when ``mu`` is None
    or 1 (and for a single class, whose exponent is undefined)."""
    available = [int(n) for n in available]
    m = len(available)
    if imbalance_factor is None or imbalance_factor == 1 or m < 2:
        return available
    return [
        int(math.floor(n * imbalance_factor**(i / (1 - m))))
        for i, n in enumerate(available)
    ]


def seeded_class_subset(labels: np.ndarray, counts: Sequence[int],
                        seed: int) -> np.ndarray:
    """Indices (ascending) keeping ``counts[c]`` images of each class
    ``c``: the first ``counts[c]`` of a permutation of the class's indices
    drawn from one ``RandomState(seed)``, classes in order."""
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    keep = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        keep.append(idx[rng.permutation(len(idx))[:n]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, int)


class ClassDisjointDataset(BaseDataset):
    """Base of the class-disjoint retrieval datasets; see the module doc.

    A subclass reads its annotation files in :meth:`read_annotations` and
    returns every image of the dataset (both official splits) as data
    infos with a 0-based ``class_index`` in the dataset's class order, the
    class names in that order, and the number ``M`` of training classes
    (the first ``M``). Each data info of the split keeps ``class_index``
    and gets ``gt_label``, the label within the split.

    ``metainfo['train_class_counts']`` of the training split holds its
    per-class counts (after the long-tail reduction), which
    ``ClassCountsHook`` hands to the count-based losses.

    Args:
        data_root: dataset root.
        split: ``'train'`` (the first ``M`` classes) or ``'test'``.
        imbalance_factor: ``mu >= 1`` of the long-tailed training split, or
            None (balanced, as ``mu = 1``).
        seed: seed of the kept-image selection (0).
        pipeline, test_mode, lazy_init, ...: as
            :class:`mmpretrain.datasets.BaseDataset`.
    """

    #: Expected folder layout, quoted by the errors.
    LAYOUT = ''

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 pipeline: Sequence = (),
                 imbalance_factor: Optional[float] = None,
                 seed: int = 0,
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        name = type(self).__name__
        if split not in ('train', 'test'):
            raise ValueError(f"{name}: split must be 'train' or 'test', got "
                             f'{split!r}')
        self.split = split
        self.imbalance_factor = check_imbalance_factor(imbalance_factor, name)
        self.seed = int(seed)
        # read_annotations names its files here for the errors below.
        self.annotation_source = data_root
        infos, class_names, num_train = self.read_annotations(data_root)
        class_names = tuple(str(c) for c in class_names)
        labels = np.asarray([info['class_index'] for info in infos],
                            dtype=np.int64)
        found = np.bincount(labels, minlength=len(class_names))
        empty = np.flatnonzero(found == 0)
        if len(found) != len(class_names) or len(empty):
            raise ValueError(
                f'{name}: {self.annotation_source} has no image of class '
                f'{class_names[empty[0]] if len(empty) else len(found) - 1}'
                f' (classes {len(class_names)} expected, '
                f'{len(class_names) - len(empty)} with images); '
                f'expected {self.LAYOUT}')
        if split == 'train':
            offset, split_classes = 0, class_names[:num_train]
        else:
            offset, split_classes = num_train, class_names[num_train:]
        in_split = np.flatnonzero((labels >= offset) & (
            labels < offset + len(split_classes)))
        split_labels = labels[in_split] - offset
        available = np.bincount(split_labels, minlength=len(split_classes))
        if split == 'train':
            counts = disjoint_long_tailed_counts(available,
                                                 self.imbalance_factor)
            if min(counts) < 1:
                i = counts.index(min(counts))
                # n_j >= 1 holds for mu <= N_j ** ((M - 1) / j); the bound
                # is rounded down so that the quoted factor works.
                bound = min(float(available[j])**((len(counts) - 1) / j)
                            for j in range(1, len(counts)))
                bound = math.floor(bound * 100) / 100
                raise ValueError(
                    f'{name}: imbalance_factor={imbalance_factor} leaves '
                    f'training class {i} ({split_classes[i]}, '
                    f'{available[i]} images) without images; the training '
                    f'classes allow imbalance_factor <= {bound:g}')
            chosen = in_split[seeded_class_subset(split_labels, counts,
                                                  self.seed)]
            self._train_class_counts = tuple(counts)
        else:
            chosen = in_split
            self._train_class_counts = None
        self._infos = [
            dict(infos[i], gt_label=int(labels[i] - offset)) for i in chosen
        ]
        metainfo = dict(metainfo or {})
        metainfo['classes'] = split_classes
        if self._train_class_counts is not None:
            metainfo['train_class_counts'] = self._train_class_counts
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    def read_annotations(self, data_root: str
                         ) -> Tuple[List[dict], Sequence[str], int]:
        """``(data infos with 'class_index', class names, M)``; errors
        name the file and :attr:`LAYOUT`."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement read_annotations')

    @property
    def train_class_counts(self) -> Optional[Tuple[int, ...]]:
        """Per-class image counts of the training split, or None on the
        test split."""
        return self._train_class_counts

    def load_data_list(self) -> List[dict]:
        # full_init calls this once; dropping the reference lets the
        # serialised copy be the only one (CIFAR images are held in memory).
        data_list, self._infos = self._infos, None
        return data_list

    def extra_repr(self) -> List[str]:
        body = [f'Root of dataset: \t{self.data_root}',
                f'Split: \t{self.split}']
        if self.split == 'train':
            body += [f'Imbalance factor: \t{self.imbalance_factor}',
                     f'Train class counts: \t{self._train_class_counts}']
        return body
