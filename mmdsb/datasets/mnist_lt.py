"""Long-tailed MNIST (paper App. D.3, Table 7).

Reads the standard MNIST idx files under ``data_root`` (each may also be
stored gzip-compressed with a ``.gz`` suffix)::

    train-images-idx3-ubyte  train-labels-idx1-ubyte
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

The training split keeps ``counts[i]`` images of digit ``i``: the exact
counts of the paper's Table 7 (``profile='MNIST-LT-1'`` or
``'MNIST-LT-2'``), or the exponential profile
``n_i = int(n_max * (1 / rho) ** (i / 9))`` of the CIFAR-LT sets
(``profile='exp'``, ``n_max`` = the smallest class of the full training
set). Selection as in :mod:`mmdsb.datasets.cifar_lt`: one
``np.random.RandomState(seed)``, classes in order 0..9, the indices of class
``i`` (file order) shuffled and the first ``n_i`` kept. The test split is
the full balanced-by-source t10k set.
"""
import gzip
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .digits_lt import long_tailed_counts
from .cifar_lt import long_tailed_samples

__all__ = ['MNISTLT', 'MNIST_LT_COUNTS', 'read_idx']

# Paper Table 7.
MNIST_LT_COUNTS = {
    'MNIST-LT-1': (5923, 3590, 2940, 2518, 2256, 1972, 1700, 1300, 1100,
                   900),
    'MNIST-LT-2': (5923, 3090, 2540, 1818, 1356, 972, 484, 272, 122, 74),
}
FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def _resolve(data_root: str, name: str) -> str:
    for candidate in (name, name + '.gz'):
        path = osp.join(data_root, candidate)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'MNISTLT: missing {osp.join(data_root, name)} (or .gz); expected '
        f'the MNIST idx files {", ".join(sum(FILES.values(), ()))} in '
        f'{data_root}')


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Read an idx file of unsigned bytes with ``ndim`` dimensions
    (magic ``0x0000 08 ndim``, big-endian sizes, then the data)."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        raw = f.read()
    expected = f'idx layout: magic 0x000008{ndim:02x}, {ndim} big-endian ' \
        'int32 sizes, then unsigned bytes'
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f'{path}: file too short for the {expected}')
    magic = int.from_bytes(raw[:4], 'big')
    if magic != 0x0800 + ndim:
        raise ValueError(f'{path}: magic number 0x{magic:08x}; expected the '
                         f'{expected}')
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f'{path}: header announces shape {shape} '
                         f'({int(np.prod(shape))} bytes) but holds '
                         f'{body.size} data bytes; expected the {expected}')
    return body.reshape(shape)


@DATASETS.register_module()
class MNISTLT(BaseDataset):
    """Long-tailed MNIST; see the module docstring.

    Each data info holds ``img`` (``uint8`` 28x28 grey array), ``gt_label``
    and ``source_idx`` (row of the idx file). ``metainfo`` holds
    ``train_class_counts`` on both splits.

    Args:
        data_root: folder with the four MNIST idx files.
        split: ``'train'`` or ``'test'``.
        profile: ``'MNIST-LT-1'``, ``'MNIST-LT-2'`` (paper Table 7) or
            ``'exp'`` (exponential, needs ``imbalance_ratio``).
        imbalance_ratio: ``rho >= 1`` of the ``'exp'`` profile.
        seed: seed of the kept-image selection (0).
    """

    def __init__(self,
                 data_root: str = 'data/mnist',
                 split: str = 'train',
                 profile: str = 'MNIST-LT-1',
                 imbalance_ratio: Optional[float] = None,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if split not in FILES:
            raise ValueError(f"MNISTLT split must be 'train' or 'test', got "
                             f'{split!r}')
        if profile not in (*MNIST_LT_COUNTS, 'exp'):
            raise ValueError(f'MNISTLT profile must be one of '
                             f'{[*MNIST_LT_COUNTS, "exp"]}, got {profile!r}')
        if (profile == 'exp') != (imbalance_ratio is not None):
            raise ValueError("MNISTLT: imbalance_ratio is required by "
                             "profile='exp' and only by it")
        self.split, self.profile, self.seed = split, profile, int(seed)
        self.imbalance_ratio = imbalance_ratio
        self.paths = {
            s: tuple(_resolve(data_root, n) for n in names)
            for s, names in FILES.items()
        }
        train_labels = read_idx(self.paths['train'][1], 1)
        available = np.bincount(train_labels, minlength=10)
        if len(available) != 10:
            raise ValueError(f'MNISTLT: {self.paths["train"][1]} has labels '
                             'above 9')
        if profile == 'exp':
            counts = long_tailed_counts(int(available.min()),
                                        imbalance_ratio, 10)
        else:
            counts = list(MNIST_LT_COUNTS[profile])
        short = [c for c in range(10) if available[c] < counts[c]]
        if short or min(counts) < 1:
            c = short[0] if short else counts.index(min(counts))
            raise ValueError(
                f'MNISTLT {profile}: class {c} needs {counts[c]} training '
                f'images (at least 1), {self.paths["train"][1]} has '
                f'{int(available[c])}')
        self._train_class_counts = tuple(int(c) for c in counts)
        metainfo = dict(metainfo or {})
        metainfo['train_class_counts'] = self._train_class_counts
        metainfo.setdefault('classes', tuple(str(i) for i in range(10)))
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    @property
    def train_class_counts(self) -> Tuple[int, ...]:
        """Per-class image counts of the training split (digit 0 first)."""
        return self._train_class_counts

    def load_data_list(self):
        image_file, label_file = self.paths[self.split]
        images = read_idx(image_file, 3)
        labels = read_idx(label_file, 1).astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f'MNISTLT: {image_file} holds {len(images)} '
                             f'images but {label_file} {len(labels)} labels')
        return long_tailed_samples(
            images, labels,
            self._train_class_counts if self.split == 'train' else None,
            self.seed)

    def extra_repr(self):
        return [
            f'Split: \t{self.split}', f'Profile: \t{self.profile}',
            f'Train class counts: \t{self.train_class_counts}'
        ]
