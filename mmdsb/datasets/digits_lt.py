"""Long-tailed version of scikit-learn's bundled handwritten digits.

``sklearn.datasets.load_digits()`` ships 1797 grayscale 8x8 images of the
digits 0..9 (pixel values 0..16) inside scikit-learn, so this dataset needs
no download. The split is deterministic:

1. For every class ``c`` (in order 0..9) the indices of its images, in
   ascending order, are shuffled with ``rng.permutation`` where
   ``rng = numpy.random.default_rng(seed)`` is shared by all classes.
2. The first ``test_per_class`` shuffled images of each class form the
   balanced ``test`` split.
3. With ``n_max`` the smallest number of images left over any class, the
   ``train`` split keeps the next ``n_i = int(n_max * (1 / rho) ** (i / 9))``
   images of class ``i``, so class 0 is the head and class 9 the tail.

With the defaults (``rho=20``, ``test_per_class=50``) ``n_max = 124`` and the
train counts are ``(124, 88, 63, 45, 32, 23, 16, 12, 8, 6)``.
"""
import math
import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS
from sklearn.datasets import load_digits

from ..guards import positive_int

NUM_CLASSES = 10


def long_tailed_counts(n_max: int, imbalance_ratio: float,
                       num_classes: int) -> Tuple[int, ...]:
    """Exponential profile ``n_i = int(n_max * (1 / rho) ** (i / (C - 1)))``.
    """
    if num_classes == 1:
        return (int(n_max), )
    return tuple(
        int(n_max * (1 / imbalance_ratio)**(i / (num_classes - 1)))
        for i in range(num_classes))


@DATASETS.register_module()
class DigitsLT(BaseDataset):
    """Long-tailed digits (scikit-learn's ``load_digits``), see module doc.

    Each data info holds ``img`` (``uint8`` array of shape ``(8, 8)``, the
    0..16 values scaled to 0..255 and rounded), ``gt_label`` (int) and
    ``source_idx`` (row in ``load_digits()``). ``metainfo`` holds ``classes``
    (``'0'`` .. ``'9'``) and ``train_class_counts``: the per-class counts of
    the *training* split, on both splits, because evaluating the test split
    by many/medium/few-shot groups needs the training counts.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        imbalance_ratio (float): ``rho``, largest over smallest training
            class size before rounding; ``>= 1``. Defaults to 20.
        test_per_class (int): Images per class in the balanced test split.
            Defaults to 50.
        seed (int): Seed of the per-class permutations. Defaults to 0.
        pipeline (Sequence): Transforms applied to each sample.
        metainfo (dict, optional): Extra meta information.
        test_mode, lazy_init, indices, serialize_data, max_refetch: As in
            :class:`mmpretrain.datasets.BaseDataset`.
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(NUM_CLASSES)))
    SPLITS = ('train', 'test')

    def __init__(self,
                 split: str = 'train',
                 imbalance_ratio: float = 20,
                 test_per_class: int = 50,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 max_refetch: int = 1000):
        if split not in self.SPLITS:
            raise ValueError(f"DigitsLT split must be one of {self.SPLITS}, "
                             f'got {split!r}')
        if isinstance(imbalance_ratio, bool) or not isinstance(
                imbalance_ratio, numbers.Real) or not math.isfinite(
                    imbalance_ratio) or imbalance_ratio < 1:
            raise ValueError('DigitsLT imbalance_ratio must be a finite '
                             f'number >= 1, got {imbalance_ratio!r}')
        test_per_class = positive_int(test_per_class, 'test_per_class',
                                      'DigitsLT')
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f'DigitsLT seed must be an int, got {seed!r}')
        if metainfo is not None and 'classes' in metainfo and len(
                metainfo['classes']) != NUM_CLASSES:
            raise ValueError(f'DigitsLT has {NUM_CLASSES} classes, metainfo '
                             f"gives {len(metainfo['classes'])}")

        self.split = split
        self.imbalance_ratio = imbalance_ratio
        self.test_per_class = test_per_class
        self.seed = int(seed)

        # Counts depend only on class sizes, so they are known before (lazy)
        # loading and can go into metainfo at construction.
        class_sizes = np.bincount(
            load_digits().target, minlength=NUM_CLASSES)
        smallest = int(class_sizes.min())
        if test_per_class >= smallest:
            raise ValueError(
                f'DigitsLT test_per_class={test_per_class} leaves no '
                f'training image for the smallest class ({smallest} images);'
                f' use at most {smallest - 1}')
        n_max = smallest - test_per_class
        counts = long_tailed_counts(n_max, imbalance_ratio, NUM_CLASSES)
        if min(counts) < 1:
            raise ValueError(
                f'DigitsLT imbalance_ratio={imbalance_ratio} is too large: '
                f'with n_max={n_max} the tail class gets {min(counts)} '
                'training images; use imbalance_ratio <= '
                f'{n_max}')
        self._train_class_counts = counts

        metainfo = dict(metainfo or {})
        metainfo['train_class_counts'] = counts
        super().__init__(
            ann_file='',
            metainfo=metainfo,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            serialize_data=serialize_data,
            max_refetch=max_refetch)

    @property
    def train_class_counts(self) -> Tuple[int, ...]:
        """Per-class image counts of the training split (class 0 first)."""
        return self._train_class_counts

    def load_data_list(self):
        digits = load_digits()
        # Round the 0..16 grid values onto the usual 0..255 image range.
        images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
        targets = digits.target

        rng = np.random.default_rng(self.seed)
        data_list = []
        for label in range(NUM_CLASSES):
            order = rng.permutation(np.flatnonzero(targets == label))
            if self.split == 'test':
                chosen = order[:self.test_per_class]
            else:
                start = self.test_per_class
                chosen = order[start:start + self._train_class_counts[label]]
            for idx in chosen:
                data_list.append(
                    dict(
                        img=images[idx].copy(),
                        gt_label=label,
                        source_idx=int(idx),
                        img_shape=images[idx].shape,
                        ori_shape=images[idx].shape))
        return data_list

    def extra_repr(self):
        return [
            f'Split: \t{self.split}',
            f'Imbalance ratio: \t{self.imbalance_ratio}',
            f'Train class counts: \t{self.train_class_counts}',
        ]
