"""Large long-tailed benchmarks read from their published annotation files.

Nothing is downloaded; the files are expected under ``data_root``:

- ImageNet-LT (Liu et al., 2019): ``meta/ImageNet_LT_{train,val,test}.txt``,
  one ``path label`` line per image, paths relative to ``data_root``.
- Places-LT (Liu et al., 2019): ``meta/Places_LT_{train,val,test}.txt``,
  same layout.
- iNaturalist 2018: the official ``train2018.json`` / ``val2018.json``
  (COCO-like: ``images`` with ``id`` and ``file_name``, ``annotations``
  with ``image_id`` and ``category_id``).
- MSCOCO-GLT (Tang et al., 2022, IFL): the paper fixes no file layout, so
  the lists here are ``path label attribute`` lines (``attribute`` an
  integer cluster id) under ``meta/``: ``train_glt.txt`` (class- and
  attribute-wise long-tailed), ``train_cbl.txt`` (class-balanced,
  attribute-wise long-tailed), ``test_cbl.txt`` and ``test_gbl.txt``
  (class- and attribute-balanced). The protocols pair them as in IFL:
  CLT = train_glt / test_cbl, GLT = train_glt / test_gbl,
  ALT = train_cbl / test_gbl.

Every dataset puts the per-class counts of its training file in
``metainfo['train_class_counts']`` (on all splits, for the many/medium/few
groups and the count-based losses). A ``train_class_counts`` given in the
``metainfo`` argument takes precedence (e.g. to evaluate a subset with the
full set's groups).
"""
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

__all__ = [
    'read_split_list', 'ImageNetLT', 'PlacesLT', 'INaturalist2018',
    'MSCOCOGLT'
]


def read_split_list(path: str, num_fields: int = 2,
                    num_classes: Optional[int] = None
                    ) -> List[Tuple[str, ...]]:
    """Read a split list of ``path label`` (``num_fields=2``) or
    ``path label attribute`` (3) lines; blank lines are skipped. Returns
    ``(path, label[, attribute])`` tuples with integer label/attribute."""
    layout = '"<image path> <integer label>"' if num_fields == 2 else \
        '"<image path> <integer label> <integer attribute>"'
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'split list not found: {path}; expected one {layout} line per '
            'image')
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            # rsplit keeps spaces inside image paths.
            parts = line.strip().rsplit(maxsplit=num_fields - 1)
            ints = parts[1:]
            if len(parts) != num_fields or not all(
                    p.isdigit() for p in ints):
                raise ValueError(f'{path}, line {number}: expected {layout}, '
                                 f'got {line.strip()!r}')
            if num_classes is not None and int(ints[0]) >= num_classes:
                raise ValueError(
                    f'{path}, line {number}: label {ints[0]} is not below '
                    f'the {num_classes} classes of the dataset; expected '
                    f'{layout}')
            rows.append((parts[0], *map(int, ints)))
    if not rows:
        raise ValueError(f'split list {path} holds no images; expected one '
                         f'{layout} line per image')
    return rows


def _counts(labels: Sequence[int], num_classes: int) -> Tuple[int, ...]:
    return tuple(
        int(c) for c in np.bincount(np.asarray(labels, dtype=np.int64),
                                    minlength=num_classes))


class _CountedDataset(BaseDataset):
    """Stores the training counts in metainfo before the data list is
    loaded (so lazily initialised datasets know their groups)."""

    NUM_CLASSES = 0

    def _init_counts(self, counts: Sequence[int], metainfo: Optional[dict]
                     ) -> dict:
        metainfo = dict(metainfo or {})
        counts = tuple(int(c) for c in metainfo.get('train_class_counts',
                                                     counts))
        if len(counts) != self.num_classes:
            raise ValueError(
                f'{type(self).__name__}: train_class_counts has '
                f'{len(counts)} entries for {self.num_classes} classes')
        self._train_class_counts = counts
        metainfo['train_class_counts'] = counts
        metainfo.setdefault('classes', tuple(
            str(i) for i in range(self.num_classes)))
        return metainfo

    @property
    def train_class_counts(self) -> Tuple[int, ...]:
        """Per-class image counts of the training split (class 0 first)."""
        return self._train_class_counts


class _SplitListLT(_CountedDataset):
    """``path label`` split lists with train/val/test files named
    ``PATTERN.format(split=...)`` in ``data_root/ann_dir``.

    Args:
        data_root: dataset root; image paths are relative to it (joined
            with ``data_prefix``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        ann_dir: folder of the split lists inside ``data_root`` ('meta').
        data_prefix: folder of the images inside ``data_root`` ('').
        num_classes: number of classes (the published one by default).
    """
    PATTERN = ''
    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 ann_dir: str = 'meta',
                 data_prefix: str = '',
                 num_classes: Optional[int] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__} split must be one of '
                             f'{self.SPLITS}, got {split!r}')
        self.split = split
        self.num_classes = int(num_classes or self.NUM_CLASSES)
        self.list_file = osp.join(data_root, ann_dir,
                                  self.PATTERN.format(split=split))
        train_file = osp.join(data_root, ann_dir,
                              self.PATTERN.format(split='train'))
        labels = [r[1] for r in read_split_list(train_file, 2,
                                                self.num_classes)]
        metainfo = self._init_counts(_counts(labels, self.num_classes),
                                     metainfo)
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix=data_prefix, pipeline=pipeline,
                         test_mode=test_mode, lazy_init=lazy_init, **kwargs)

    def load_data_list(self):
        prefix = self.data_prefix.get('img_path', '') or ''
        return [
            dict(img_path=osp.join(prefix, path), gt_label=label)
            for path, label in read_split_list(self.list_file, 2,
                                               self.num_classes)
        ]

    def extra_repr(self):
        return [f'Split list: \t{self.list_file}']


@DATASETS.register_module()
class ImageNetLT(_SplitListLT):
    """ImageNet-LT: 1000 classes, ``meta/ImageNet_LT_{split}.txt``; the
    test list (50 images per class) is the split the literature reports.
    """
    NUM_CLASSES = 1000
    PATTERN = 'ImageNet_LT_{split}.txt'


@DATASETS.register_module()
class PlacesLT(_SplitListLT):
    """Places-LT: 365 classes, ``meta/Places_LT_{split}.txt``."""
    NUM_CLASSES = 365
    PATTERN = 'Places_LT_{split}.txt'


def _read_inat(path: str, num_classes: int) -> List[Tuple[str, int]]:
    layout = ('a JSON object with "images" ([{"id", "file_name"}, ...]) and '
              '"annotations" ([{"image_id", "category_id"}, ...])')
    if not osp.isfile(path):
        raise FileNotFoundError(f'iNaturalist annotation file not found: '
                                f'{path}; expected {layout}')
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}, line {e.lineno}: invalid JSON ({e.msg}); '
                         f'expected {layout}') from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in ('images', 'annotations')):
        raise ValueError(f'{path}: expected {layout}')
    files = {}
    for i, image in enumerate(data['images']):
        if not isinstance(image, dict) or not {'id', 'file_name'} <= set(
                image):
            raise ValueError(f'{path}: images[{i}] lacks "id" or '
                             f'"file_name"; expected {layout}')
        files[image['id']] = image['file_name']
    rows = []
    for i, ann in enumerate(data['annotations']):
        ok = isinstance(ann, dict) and ann.get('image_id') in files and \
            isinstance(ann.get('category_id'), int) and \
            0 <= ann['category_id'] < num_classes
        if not ok:
            raise ValueError(
                f'{path}: annotations[{i}] = {ann!r} needs an "image_id" of '
                f'an image and an integer "category_id" in [0, '
                f'{num_classes}); expected {layout}')
        rows.append((files[ann['image_id']], ann['category_id']))
    if not rows:
        raise ValueError(f'{path} holds no annotations; expected {layout}')
    return rows


@DATASETS.register_module()
class INaturalist2018(_CountedDataset):
    """iNaturalist 2018 (8142 classes) from the official JSON files
    ``train2018.json`` / ``val2018.json`` in ``data_root/ann_dir``; image
    ``file_name`` entries are relative to ``data_root``. The validation
    set is the evaluation split of the long-tailed literature.

    Args:
        split: ``'train'`` or ``'val'``.
    """
    NUM_CLASSES = 8142
    FILES = {'train': 'train2018.json', 'val': 'val2018.json'}

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 ann_dir: str = '',
                 num_classes: Optional[int] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if split not in self.FILES:
            raise ValueError(f"INaturalist2018 split must be 'train' or "
                             f"'val', got {split!r}")
        self.split = split
        self.num_classes = int(num_classes or self.NUM_CLASSES)
        self.json_file = osp.join(data_root, ann_dir, self.FILES[split])
        train = _read_inat(osp.join(data_root, ann_dir, self.FILES['train']),
                           self.num_classes)
        metainfo = self._init_counts(
            _counts([r[1] for r in train], self.num_classes), metainfo)
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    def load_data_list(self):
        return [
            dict(img_path=osp.join(self.data_root, path), gt_label=label)
            for path, label in _read_inat(self.json_file, self.num_classes)
        ]

    def extra_repr(self):
        return [f'Annotation file: \t{self.json_file}']


@DATASETS.register_module()
class MSCOCOGLT(_CountedDataset):
    """MSCOCO-GLT (29 classes) with the CLT, GLT and ALT protocols; see the
    module docstring for the ``path label attribute`` list layout. Each
    data info also holds ``attribute``.

    Args:
        protocol: ``'clt'``, ``'glt'`` or ``'alt'``.
        split: ``'train'`` or ``'test'``; the protocol picks the file.
    """
    NUM_CLASSES = 29
    PROTOCOLS = {
        'clt': ('train_glt.txt', 'test_cbl.txt'),
        'glt': ('train_glt.txt', 'test_gbl.txt'),
        'alt': ('train_cbl.txt', 'test_gbl.txt'),
    }

    def __init__(self,
                 data_root: str = '',
                 protocol: str = 'glt',
                 split: str = 'train',
                 ann_dir: str = 'meta',
                 num_classes: Optional[int] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if protocol not in self.PROTOCOLS:
            raise ValueError(f'MSCOCOGLT protocol must be one of '
                             f'{tuple(self.PROTOCOLS)}, got {protocol!r}')
        if split not in ('train', 'test'):
            raise ValueError(f"MSCOCOGLT split must be 'train' or 'test', "
                             f'got {split!r}')
        self.protocol, self.split = protocol, split
        self.num_classes = int(num_classes or self.NUM_CLASSES)
        train_file, test_file = (osp.join(data_root, ann_dir, f)
                                 for f in self.PROTOCOLS[protocol])
        self.list_file = train_file if split == 'train' else test_file
        labels = [r[1] for r in read_split_list(train_file, 3,
                                                self.num_classes)]
        metainfo = self._init_counts(_counts(labels, self.num_classes),
                                     metainfo)
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    def load_data_list(self):
        return [
            dict(img_path=osp.join(self.data_root, path), gt_label=label,
                 attribute=attribute)
            for path, label, attribute in read_split_list(
                self.list_file, 3, self.num_classes)
        ]

    def extra_repr(self):
        return [f'Protocol: \t{self.protocol}',
                f'Split list: \t{self.list_file}']
