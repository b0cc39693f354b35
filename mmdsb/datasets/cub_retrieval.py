"""CUB-200-2011 with the class-disjoint split of deep metric learning."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from .class_disjoint import ClassDisjointDataset

__all__ = ['CUBRetrieval', 'read_cub_index']


def read_cub_index(path: str, layout: str) -> Dict[int, str]:
    """``{id: value}`` of a CUB ``<id> <value>`` file (``images.txt``,
    ``image_class_labels.txt``, ``classes.txt``), ids from 1."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'CUB-200-2011 file not found: {path}; '
                                f'expected {layout}')
    rows = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f'{path}, line {number}: expected "<id> '
                                 f'<value>", got {line.strip()!r}; expected '
                                 f'{layout}')
            rows[int(parts[0])] = parts[1].strip()
    if not rows:
        raise ValueError(f'{path} is empty; expected {layout}')
    return rows


@DATASETS.register_module()
class CUBRetrieval(ClassDisjointDataset):
    """CUB-200-2011 for retrieval: classes 1-100 (5,864 images) train,
    101-200 (5,924 images) test, all images of each class; the official
    ``train_test_split.txt`` is not used. See
    :class:`~mmdsb.datasets.class_disjoint.ClassDisjointDataset` for the
    arguments (``imbalance_factor``, ``seed``) and the labels.

    Reads the release's own layout (the one mmpretrain's ``CUB`` reads)::

        data_root/images.txt              <image id> <class folder>/<file>
        data_root/image_class_labels.txt  <image id> <class id, 1..200>
        data_root/classes.txt             <class id> <class name>
        data_root/images/<class folder>/<file>

    ``metainfo['classes']`` holds the names of ``classes.txt`` (e.g.
    ``'001.Black_footed_Albatross'``).
    """

    NUM_CLASSES = 200
    NUM_TRAIN_CLASSES = 100
    LAYOUT = ('the CUB-200-2011 layout: images.txt ("<image id> <relative '
              'path>"), image_class_labels.txt ("<image id> <class id>"), '
              'classes.txt ("<class id> <class name>", ids 1..200) and '
              'images/ in data_root')

    def read_annotations(self, data_root: str
                         ) -> Tuple[List[dict], Sequence[str], int]:
        images_file = osp.join(data_root, 'images.txt')
        labels_file = osp.join(data_root, 'image_class_labels.txt')
        classes_file = osp.join(data_root, 'classes.txt')
        self.annotation_source = labels_file
        classes = read_cub_index(classes_file, self.LAYOUT)
        if sorted(classes) != list(range(1, self.NUM_CLASSES + 1)):
            raise ValueError(
                f'{classes_file} lists {len(classes)} classes with ids '
                f'{min(classes)}..{max(classes)}; expected the ids '
                f'1..{self.NUM_CLASSES} of {self.LAYOUT}')
        images = read_cub_index(images_file, self.LAYOUT)
        labels = read_cub_index(labels_file, self.LAYOUT)
        if images.keys() != labels.keys():
            missing = sorted(images.keys() ^ labels.keys())[0]
            raise ValueError(
                f'image id {missing} is in only one of {images_file} and '
                f'{labels_file}; expected {self.LAYOUT}')
        infos = []
        for image_id in sorted(images):
            label = labels[image_id]
            if not label.isdigit() or int(label) not in classes:
                raise ValueError(
                    f'{labels_file}: image {image_id} has class {label!r}, '
                    f'not an id of {classes_file}; expected {self.LAYOUT}')
            infos.append(dict(
                img_path=osp.join(data_root, 'images', images[image_id]),
                class_index=int(label) - 1))
        names = [classes[i] for i in range(1, self.NUM_CLASSES + 1)]
        return infos, names, self.NUM_TRAIN_CLASSES
