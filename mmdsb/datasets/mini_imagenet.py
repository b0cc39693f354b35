"""Mini-ImageNet with the class-disjoint split of deep metric learning."""
import csv
import os.path as osp
from typing import List, Sequence, Tuple

from mmpretrain.registry import DATASETS

from .class_disjoint import ClassDisjointDataset

__all__ = ['MiniImageNetRetrieval', 'read_mini_imagenet_csv']


def read_mini_imagenet_csv(path: str, layout: str) -> List[Tuple[str, str]]:
    """``(filename, label)`` rows of a Ravi & Larochelle split list."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Mini-ImageNet split list not found: '
                                f'{path}; expected {layout}')
    with open(path, newline='') as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows or [c.strip() for c in rows[0]] != ['filename', 'label']:
        raise ValueError(f'{path}: first line must be the header '
                         f'"filename,label", got '
                         f'{",".join(rows[0]) if rows else "nothing"!r}; '
                         f'expected {layout}')
    out = []
    for number, row in enumerate(rows[1:], 2):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f'{path}, line {number}: expected '
                             f'"<filename>,<wordnet id>", got '
                             f'{",".join(row)!r}; expected {layout}')
        out.append((row[0].strip(), row[1].strip()))
    if not out:
        raise ValueError(f'{path} lists no images; expected {layout}')
    return out


@DATASETS.register_module()
class MiniImageNetRetrieval(ClassDisjointDataset):
    """Mini-ImageNet (100 classes of 600 images) for retrieval: the 64
    classes of ``train.csv`` train, the 36 of ``val.csv`` and ``test.csv``
    test. Classes are ordered by first appearance in ``train.csv``,
    ``val.csv``, ``test.csv``; ``metainfo['classes']`` holds their WordNet
    ids. See :class:`~mmdsb.datasets.class_disjoint.ClassDisjointDataset`
    for the arguments and the labels.

    Layout (the split lists of Ravi & Larochelle, 2017)::

        data_root/train.csv, val.csv, test.csv   "filename,label" header,
                                                  then e.g.
                                                  "n0153282900000005.jpg,n01532829"
        data_root/images/<filename>
    """

    NUM_TRAIN_CLASSES = 64
    NUM_TEST_CLASSES = 36
    SPLIT_FILES = ('train.csv', 'val.csv', 'test.csv')
    LAYOUT = ('the Mini-ImageNet layout: train.csv (64 classes), val.csv and '
              'test.csv (36 classes together), each "filename,label" with '
              'that header and a WordNet id as label, and the images in '
              'images/, in data_root')

    def read_annotations(self, data_root: str
                         ) -> Tuple[List[dict], Sequence[str], int]:
        paths = [osp.join(data_root, f) for f in self.SPLIT_FILES]
        self.annotation_source = ', '.join(paths)
        rows = [read_mini_imagenet_csv(p, self.LAYOUT) for p in paths]
        classes = {}
        for split_rows in rows:
            for _, wnid in split_rows:
                classes.setdefault(wnid, len(classes))
        train = {wnid for _, wnid in rows[0]}
        shared = train & {wnid for r in rows[1:] for _, wnid in r}
        if shared:
            raise ValueError(
                f'class {sorted(shared)[0]} of {paths[0]} also appears in '
                f'{paths[1]} or {paths[2]}; the splits must have disjoint '
                f'classes, expected {self.LAYOUT}')
        num_test = len(classes) - len(train)
        if (len(train), num_test) != (self.NUM_TRAIN_CLASSES,
                                      self.NUM_TEST_CLASSES):
            raise ValueError(
                f'{paths[0]} has {len(train)} classes and {paths[1]} with '
                f'{paths[2]} {num_test}; expected {self.NUM_TRAIN_CLASSES} '
                f'and {self.NUM_TEST_CLASSES}, {self.LAYOUT}')
        infos = [
            dict(img_path=osp.join(data_root, 'images', name),
                 class_index=classes[wnid])
            for split_rows in rows for name, wnid in split_rows
        ]
        return infos, list(classes), self.NUM_TRAIN_CLASSES
