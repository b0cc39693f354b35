"""Large long-tailed benchmarks read from their published annotation files.

Nothing is downloaded; the files are expected under ``data_root``:

- ImageNet-LT (Liu et al., 2019): ``meta/ImageNet_LT_{train,val,test}.txt``,
  one ``path label`` line per image, paths relative to ``data_root``.
- Places-LT (Liu et al., 2019): ``meta/Places_LT_{train,val,test}.txt``,
  same layout.
- iNaturalist 2018: the official ``train2018.json`` / ``val2018.json``
  (COCO-like: ``images`` with ``id`` and ``file_name``, ``annotations``
  with ``image_id`` and ``category_id``).
- MSCOCO-GLT (Tang et al., 2022, IFL): the two annotation files of the
  IFL release, ``coco_glt/annotation.json`` (Train-GLT: class- and
  attribute-wise long-tailed) and ``coco_cbl/annotation.json`` (Train-CBL:
  class-balanced, attribute-wise long-tailed), each with the cropped object
  images in ``images/`` beside it. Each file maps the splits ``train``,
  ``val``, ``test_lt``, ``test_bl`` (Test-CBL) and ``test_bbl`` (Test-GBL)
  to ``{"label": {key: int}, "path": {key: str}, "attribute": {key: int}}``.
  The protocols pair them as in IFL: CLT = Train-GLT / Test-CBL, GLT =
  Train-GLT / Test-GBL, ALT = Train-CBL / Test-GBL (of ``coco_cbl``).

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


def read_split_list(path: str, num_classes: Optional[int] = None
                    ) -> List[Tuple[str, int]]:
    """Read a split list of ``path label`` lines; blank lines are skipped.
    Returns ``(path, label)`` tuples."""
    layout = '"<image path> <integer label>"'
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
            parts = line.strip().rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(f'{path}, line {number}: expected {layout}, '
                                 f'got {line.strip()!r}')
            label = int(parts[1])
            if num_classes is not None and label >= num_classes:
                raise ValueError(
                    f'{path}, line {number}: label {label} is not below '
                    f'the {num_classes} classes of the dataset; expected '
                    f'{layout}')
            rows.append((parts[0], label))
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
        counts = tuple(
            int(c) for c in metainfo.get('train_class_counts', counts))
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
        labels = [r[1] for r in read_split_list(train_file,
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
            for path, label in read_split_list(self.list_file,
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


def _load_json(path: str, what: str, layout: str):
    """The content of an annotation file; a missing file or invalid JSON
    raises an error naming the file (and line) and the expected layout."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} annotation file not found: {path}; '
                                f'expected {layout}')
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}, line {e.lineno}: invalid JSON ({e.msg}); '
                         f'expected {layout}') from None


def _read_inat(path: str, num_classes: int) -> List[Tuple[str, int]]:
    layout = ('a JSON object with "images" ([{"id", "file_name"}, ...]) and '
              '"annotations" ([{"image_id", "category_id"}, ...])')
    data = _load_json(path, 'iNaturalist', layout)
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


def _read_glt(path: str, split: str, num_classes: int
              ) -> List[Tuple[str, int, int]]:
    """``(image file name, label, attribute)`` of one split of an IFL
    MSCOCO-GLT annotation file, in file order."""
    layout = ('a JSON object mapping each split ("train", "val", "test_lt", '
              '"test_bl", "test_bbl") to {"label": {key: int}, "path": {key: '
              'str}, "attribute": {key: int}}')
    data = _load_json(path, 'MSCOCO-GLT', layout)
    entries = data.get(split) if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(
            isinstance(entries.get(k), dict) for k in ('label', 'path')):
        raise ValueError(f'{path}: split "{split}" with "label" and "path" '
                         f'not found; expected {layout}')
    attributes = entries.get('attribute') or {}
    rows = []
    for key, label in entries['label'].items():
        image = entries['path'].get(key)
        attribute = attributes.get(key, -1)
        if not (isinstance(label, int) and 0 <= label < num_classes
                and isinstance(image, str) and isinstance(attribute, int)):
            raise ValueError(
                f'{path}: {split} entry {key!r} needs an integer label in '
                f'[0, {num_classes}), a path and an integer attribute, got '
                f'label={label!r}, path={image!r}, attribute={attribute!r}; '
                f'expected {layout}')
        # The release stores absolute paths of its authors' machine; only
        # the file name is kept.
        rows.append((osp.basename(image), label, attribute))
    if not rows:
        raise ValueError(f'{path}: split "{split}" holds no images; expected '
                         f'{layout}')
    return rows


@DATASETS.register_module()
class MSCOCOGLT(_CountedDataset):
    """MSCOCO-GLT (29 classes) with the CLT, GLT and ALT protocols, read
    from the IFL release (see the module docstring). Images are read from
    ``data_root/<coco_glt|coco_cbl>/images/<file name of the entry's
    path>``. Each data info also holds ``attribute`` (IFL's attribute
    frequency group: 0 head, 1 middle, 2 tail).

    Args:
        protocol: ``'clt'``, ``'glt'`` or ``'alt'``; picks the training
            set (Train-GLT, Train-CBL) and the test split.
        split: ``'train'``, ``'val'`` (IFL's validation split, distributed
            as the training set) or ``'test'`` (the protocol's test split).
    """
    NUM_CLASSES = 29
    PROTOCOLS = {
        'clt': ('coco_glt', 'test_bl'),
        'glt': ('coco_glt', 'test_bbl'),
        'alt': ('coco_cbl', 'test_bbl'),
    }

    def __init__(self,
                 data_root: str = '',
                 protocol: str = 'glt',
                 split: str = 'train',
                 num_classes: Optional[int] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if protocol not in self.PROTOCOLS:
            raise ValueError(f'MSCOCOGLT protocol must be one of '
                             f'{tuple(self.PROTOCOLS)}, got {protocol!r}')
        if split not in ('train', 'val', 'test'):
            raise ValueError(f"MSCOCOGLT split must be 'train', 'val' or "
                             f"'test', got {split!r}")
        self.protocol, self.split = protocol, split
        self.num_classes = int(num_classes or self.NUM_CLASSES)
        subset, test_split = self.PROTOCOLS[protocol]
        self.subset_dir = osp.join(data_root, subset)
        self.ann_path = osp.join(self.subset_dir, 'annotation.json')
        self.ann_split = test_split if split == 'test' else split
        labels = [r[1] for r in _read_glt(self.ann_path, 'train',
                                          self.num_classes)]
        metainfo = self._init_counts(_counts(labels, self.num_classes),
                                     metainfo)
        metainfo['glt_protocol'] = protocol  # names GLTAccuracy's keys
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         pipeline=pipeline, test_mode=test_mode,
                         lazy_init=lazy_init, **kwargs)

    def load_data_list(self):
        return [
            dict(img_path=osp.join(self.subset_dir, 'images', name),
                 gt_label=label, attribute=attribute)
            for name, label, attribute in _read_glt(
                self.ann_path, self.ann_split, self.num_classes)
        ]

    def extra_repr(self):
        return [f'Protocol: \t{self.protocol}',
                f'Annotation file: \t{self.ann_path} ({self.ann_split})']
