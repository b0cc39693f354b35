"""CIFAR-100 with the class-disjoint split of deep metric learning."""
import os.path as osp
import pickle
from typing import List, Sequence, Tuple

import numpy as np
from mmpretrain.registry import DATASETS

from .cifar_lt import _read_batches
from .class_disjoint import ClassDisjointDataset

__all__ = ['CIFAR100Retrieval']


@DATASETS.register_module()
class CIFAR100Retrieval(ClassDisjointDataset):
    """CIFAR-100 for retrieval: the 600 images of each class (500 of the
    ``train`` pickle, then 100 of ``test``), fine classes 0-59 train, 60-99
    test; with ``imbalance_factor`` 10, 50 or 200 the long-tailed
    CIFAR-100 of paper Fig. 8a and Table 5. See
    :class:`~mmdsb.datasets.class_disjoint.ClassDisjointDataset` for the
    arguments and the labels.

    Reads the python pickles (no checksum test, so small files of the same
    format work)::

        data_root/cifar-100-python/train, test   ("data", "fine_labels")
        data_root/cifar-100-python/meta          ("fine_label_names")

    Each data info holds ``img`` (``uint8`` RGB 32x32x3), ``gt_label``,
    ``class_index`` (fine label) and ``source_idx`` (row in ``train``
    followed by ``test``).
    """

    NUM_CLASSES = 100
    NUM_TRAIN_CLASSES = 60
    FOLDER = 'cifar-100-python'
    LAYOUT = ('the CIFAR-100 python pickles cifar-100-python/train and test '
              '(dicts with "data", N x 3072 uint8, and "fine_labels", 0..99) '
              'and cifar-100-python/meta (dict with the 100 '
              '"fine_label_names") in data_root')

    def _load(self, path: str, what: str):
        if not osp.isfile(path):
            raise FileNotFoundError(f'CIFAR-100 file not found: {path}; '
                                    f'expected {self.LAYOUT}')
        try:
            if what == 'meta':
                with open(path, 'rb') as f:
                    return list(pickle.load(f, encoding='latin1')
                                ['fine_label_names'])
            return _read_batches([path], 'fine_labels')
        except Exception as e:  # unpickling and reshaping raise many types
            raise ValueError(f'{path} is not a CIFAR-100 {what} pickle '
                             f'({type(e).__name__}: {e}); expected '
                             f'{self.LAYOUT}') from None

    def read_annotations(self, data_root: str
                         ) -> Tuple[List[dict], Sequence[str], int]:
        folder = osp.join(data_root, self.FOLDER)
        paths = [osp.join(folder, f) for f in ('train', 'test', 'meta')]
        self.annotation_source = f'{paths[0]} and {paths[1]}'
        names = self._load(paths[2], 'meta')
        if len(names) != self.NUM_CLASSES:
            raise ValueError(f'{paths[2]} names {len(names)} fine classes; '
                             f'expected {self.NUM_CLASSES}, {self.LAYOUT}')
        parts = [self._load(p, 'data') for p in paths[:2]]
        # Contiguous rows pickle fast when the data list is serialised.
        images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
        labels = np.concatenate([p[1] for p in parts])
        bad = np.flatnonzero((labels < 0) | (labels >= self.NUM_CLASSES))
        if len(bad):
            raise ValueError(
                f'{self.annotation_source}: fine label {labels[bad[0]]} of '
                f'image {bad[0]} is outside 0..{self.NUM_CLASSES - 1}; '
                f'expected {self.LAYOUT}')
        infos = [
            dict(img=images[i], class_index=int(labels[i]), source_idx=i)
            for i in range(len(labels))
        ]
        return infos, names, self.NUM_TRAIN_CLASSES
