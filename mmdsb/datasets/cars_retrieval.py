"""Stanford Cars (Cars196) with the class-disjoint split of deep metric
learning."""
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
from mmpretrain.datasets.categories import STANFORDCARS_CATEGORIES
from mmpretrain.registry import DATASETS

from .class_disjoint import ClassDisjointDataset

__all__ = ['StanfordCarsRetrieval', 'read_cars_annotations']


def read_cars_annotations(path: str, fields: Sequence[str], layout: str
                          ) -> List[dict]:
    """The entries of the ``annotations`` struct array of a Stanford Cars
    ``.mat`` file, as dicts holding at least ``fields``."""
    from scipy.io import loadmat
    if not osp.isfile(path):
        raise FileNotFoundError(f'Stanford Cars annotation file not found: '
                                f'{path}; expected {layout}')
    try:
        data = loadmat(path, simplify_cells=True)
    except Exception as e:  # scipy raises several types for a bad file
        raise ValueError(f'{path} is not a readable MATLAB file ({e}); '
                         f'expected {layout}') from None
    entries = data.get('annotations')
    if isinstance(entries, dict):  # a single annotation is not a list
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f'{path} has no non-empty "annotations" struct '
                         f'array; expected {layout}')
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not set(fields) <= set(entry):
            got = sorted(entry) if isinstance(entry, dict) else entry
            raise ValueError(f'{path}: annotations({i + 1}) has fields '
                             f'{got}, needs {list(fields)}; expected '
                             f'{layout}')
    return entries


@DATASETS.register_module()
class StanfordCarsRetrieval(ClassDisjointDataset):
    """Cars196 for retrieval: the images of both official splits (16,185),
    classes 1-98 train (8,054 images), 99-196 test (8,131). See
    :class:`~mmdsb.datasets.class_disjoint.ClassDisjointDataset` for the
    arguments (``imbalance_factor``, ``seed``) and the labels; Cars196-LT
    is ``imbalance_factor`` 10, 20 or 50 (paper Fig. 8b, Table 8).

    Reads either layout of mmpretrain's ``StanfordCars``::

        data_root/devkit/cars_train_annos.mat            (class, fname)
        data_root/devkit/cars_test_annos_withlabels.mat  (class, fname)
        data_root/cars_train/*.jpg, data_root/cars_test/*.jpg

    or ``data_root/cars_annos.mat`` (``relative_im_path``, ``class``,
    ``test``) with ``data_root/car_ims/*.jpg``; ``class`` runs 1..196.
    Images are listed training file first, then test file. Class names are
    mmpretrain's ``STANFORDCARS_CATEGORIES`` (the order of the devkit's
    ``cars_meta.mat``).
    """

    NUM_TRAIN_CLASSES = 98
    LAYOUT = ('the Stanford Cars layout: devkit/cars_train_annos.mat and '
              'devkit/cars_test_annos_withlabels.mat (struct array '
              '"annotations" with "class" 1..196 and "fname") with the images '
              'in cars_train/ and cars_test/, or cars_annos.mat ('
              '"relative_im_path", "class", "test") with car_ims/, in '
              'data_root')

    def read_annotations(self, data_root: str
                         ) -> Tuple[List[dict], Sequence[str], int]:
        combined = osp.join(data_root, 'cars_annos.mat')
        if osp.isfile(combined):
            files = [(combined, ('relative_im_path', 'class'), '')]
        else:
            files = [(osp.join(data_root, 'devkit', name), ('fname', 'class'),
                      folder)
                     for name, folder in (
                         ('cars_train_annos.mat', 'cars_train'),
                         ('cars_test_annos_withlabels.mat', 'cars_test'))]
        self.annotation_source = ' and '.join(f[0] for f in files)
        num_classes = len(STANFORDCARS_CATEGORIES)
        infos = []
        for path, (name_key, class_key), folder in files:
            for i, entry in enumerate(read_cars_annotations(
                    path, (name_key, class_key), self.LAYOUT)):
                label = entry[class_key]
                if isinstance(label, bool) or not isinstance(
                        label, (int, np.integer)) or not (
                            1 <= label <= num_classes):
                    raise ValueError(
                        f'{path}: annotations({i + 1}) has class '
                        f'{label!r}, not an integer in 1..{num_classes}; '
                        f'expected {self.LAYOUT}')
                infos.append(dict(
                    img_path=osp.join(data_root, folder,
                                      str(entry[name_key])),
                    class_index=int(label) - 1))
        return infos, STANFORDCARS_CATEGORIES, self.NUM_TRAIN_CLASSES
