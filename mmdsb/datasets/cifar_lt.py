"""Long-tailed CIFAR-10/100 (Cui et al., 2019; Cao et al., 2019).

Reads the standard python pickles under ``data_root``::

    data_root/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch
    data_root/cifar-100-python/train, test

(no checksum test, so small files of the same format work as fixtures).
The training split keeps ``n_i = int(n_max * (1 / rho) ** (i / (C - 1)))``
images of class ``i`` (``n_max`` = images per class in the full training
set, 5000 or 500): with ``np.random.RandomState(seed)`` shared by all
classes, in class order 0..C-1, the indices of class ``i`` (in file order)
are shuffled with ``shuffle`` and the first ``n_i`` are kept -- the
selection of the LDAM-DRW code for ``seed=0``. Totals for rho = 100:
12,406 (CIFAR-10-LT) and 10,847 (CIFAR-100-LT). The test split is the full
balanced test set.
"""
import os.path as osp
import pickle
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .digits_lt import long_tailed_counts

__all__ = ['CIFAR10LT', 'CIFAR100LT']


def _read_batches(paths: Sequence[str], label_key: str
                  ) -> Tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in paths:
        with open(path, 'rb') as f:
            entry = pickle.load(f, encoding='latin1')
        images.append(np.asarray(entry['data'], dtype=np.uint8))
        labels.extend(entry[label_key])
    data = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, np.asarray(labels, dtype=np.int64)


class _CIFARLT(BaseDataset):
    """Shared implementation; see the module docstring.

    Each data info holds ``img`` (``uint8`` RGB array 32x32x3),
    ``gt_label`` and ``source_idx`` (row in the concatenated file).
    ``metainfo['train_class_counts']`` holds the training counts on both
    splits (the many/medium/few groups of the test split need them).

    Args:
        data_root: folder that contains the CIFAR python folder.
        split: ``'train'`` or ``'test'``.
        imbalance_ratio: ``rho >= 1`` (100).
        seed: seed of the kept-image selection (0).
        pipeline, metainfo, test_mode, lazy_init, ...: as
            :class:`mmpretrain.datasets.BaseDataset`.
    """

    NUM_CLASSES: int = 0
    FOLDER: str = ''
    TRAIN_FILES: Tuple[str, ...] = ()
    TEST_FILES: Tuple[str, ...] = ()
    LABEL_KEY: str = ''

    def __init__(self,
                 data_root: str = 'data/cifar',
                 split: str = 'train',
                 imbalance_ratio: float = 100,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        name = type(self).__name__
        if split not in ('train', 'test'):
            raise ValueError(f"{name} split must be 'train' or 'test', got "
                             f'{split!r}')
        if not (isinstance(imbalance_ratio, (int, float))
                and np.isfinite(imbalance_ratio) and imbalance_ratio >= 1):
            raise ValueError(f'{name} imbalance_ratio must be a finite '
                             f'number >= 1, got {imbalance_ratio!r}')
        self.split, self.imbalance_ratio, self.seed = (split,
                                                       imbalance_ratio,
                                                       int(seed))
        self.folder = osp.join(data_root, self.FOLDER)
        self._check_files()
        _, train_labels = _read_batches(self._paths(self.TRAIN_FILES),
                                        self.LABEL_KEY)
        available = np.bincount(train_labels, minlength=self.NUM_CLASSES)
        if len(available) != self.NUM_CLASSES:
            raise ValueError(f'{name}: labels in {self.folder} exceed '
                             f'{self.NUM_CLASSES - 1}')
        n_max = int(available.min())
        counts = long_tailed_counts(n_max, imbalance_ratio, self.NUM_CLASSES)
        if min(counts) < 1:
            raise ValueError(
                f'{name}: imbalance_ratio={imbalance_ratio} leaves class '
                f'{counts.index(min(counts))} without training images '
                f'(n_max={n_max}); use imbalance_ratio <= {n_max}')
        self._train_class_counts = counts
        metainfo = dict(metainfo or {})
        metainfo['train_class_counts'] = counts
        metainfo.setdefault('classes', tuple(
            str(i) for i in range(self.NUM_CLASSES)))
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    def _paths(self, files: Sequence[str]) -> List[str]:
        return [osp.join(self.folder, f) for f in files]

    def _check_files(self) -> None:
        missing = [p for p in self._paths(self.TRAIN_FILES + self.TEST_FILES)
                   if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f'{type(self).__name__}: missing {missing[0]}; expected the '
                f'CIFAR python pickles {", ".join(self.TRAIN_FILES)} and '
                f'{", ".join(self.TEST_FILES)} in {self.folder}')

    @property
    def train_class_counts(self) -> Tuple[int, ...]:
        """Per-class image counts of the training split (class 0 first)."""
        return self._train_class_counts

    def load_data_list(self):
        files = self.TRAIN_FILES if self.split == 'train' else self.TEST_FILES
        images, labels = _read_batches(self._paths(files), self.LABEL_KEY)
        return long_tailed_samples(
            images, labels,
            self._train_class_counts if self.split == 'train' else None,
            self.seed)

    def extra_repr(self):
        return [
            f'Split: \t{self.split}',
            f'Imbalance ratio: \t{self.imbalance_ratio}',
            f'Train class counts: \t{self.train_class_counts}',
        ]


def long_tailed_samples(images: np.ndarray, labels: np.ndarray,
                        counts: Optional[Sequence[int]],
                        seed: int) -> List[dict]:
    """Data infos keeping the first ``counts[c]`` images of each class ``c``
    after a shuffle with ``numpy.random.RandomState(seed)`` (classes in
    order, one generator; the LDAM-DRW code's choice for seed 0), or every
    image when ``counts`` is None (the balanced test split)."""
    if counts is None:
        chosen = np.arange(len(labels))
    else:
        rng = np.random.RandomState(seed)
        keep = []
        for c, n in enumerate(counts):
            idx = np.flatnonzero(labels == c)
            rng.shuffle(idx)
            keep.append(idx[:n])
        chosen = np.concatenate(keep)
    return [
        dict(img=images[i], gt_label=int(labels[i]), source_idx=int(i))
        for i in chosen
    ]


@DATASETS.register_module()
class CIFAR10LT(_CIFARLT):
    """Long-tailed CIFAR-10, see :class:`_CIFARLT` and the module doc."""
    NUM_CLASSES = 10
    FOLDER = 'cifar-10-batches-py'
    TRAIN_FILES = tuple(f'data_batch_{i}' for i in range(1, 6))
    TEST_FILES = ('test_batch', )
    LABEL_KEY = 'labels'


@DATASETS.register_module()
class CIFAR100LT(_CIFARLT):
    """Long-tailed CIFAR-100 (fine labels), see :class:`_CIFARLT`."""
    NUM_CLASSES = 100
    FOLDER = 'cifar-100-python'
    TRAIN_FILES = ('train', )
    TEST_FILES = ('test', )
    LABEL_KEY = 'fine_labels'
