"""Small real-format deep-metric-learning datasets written by the tests.

Each writer builds the on-disk layout its mmdsb dataset reads, with tiny
images; ``images_per_class`` is one number for every class or one number
per class (class 0 first).
"""
import csv
import os
import os.path as osp
import pickle
from typing import List, Sequence, Tuple, Union

import cv2
import numpy as np

PerClass = Union[int, Sequence[int]]


def _per_class(images_per_class: PerClass, num_classes: int) -> List[int]:
    if isinstance(images_per_class, int):
        return [images_per_class] * num_classes
    counts = [int(n) for n in images_per_class]
    if len(counts) != num_classes:
        raise ValueError(f'images_per_class has {len(counts)} entries for '
                         f'{num_classes} classes')
    return counts


def _write_image(path: str, label: int, index: int, size: int) -> None:
    """A ``size`` x ``size`` image: a class colour plus a little noise."""
    rng = np.random.default_rng(label * 100003 + index)
    colour = np.array([(37 * label) % 256, (91 * label) % 256,
                       (157 * label) % 256])
    img = np.clip(colour + rng.normal(0, 10, (size, size, 3)), 0, 255)
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, img.astype(np.uint8))


def cub_class_name(class_id: int) -> str:
    """Folder name of CUB class ``class_id`` (1-based), e.g.
    ``'001.Black_footed_Albatross'``."""
    from mmpretrain.datasets.categories import CUB_CATEGORIES
    return f'{class_id:03d}.{CUB_CATEGORIES[class_id - 1]}'


def write_cub(root: str, images_per_class: PerClass, num_classes: int = 200,
              size: int = 8) -> str:
    """Write the CUB-200-2011 layout under ``root`` (``images.txt``,
    ``image_class_labels.txt``, ``classes.txt``, ``train_test_split.txt``
    and ``images/<class folder>/*.jpg``); image ids run over the classes
    in order, as in the release. Returns ``root``."""
    counts = _per_class(images_per_class, num_classes)
    images, labels, split = [], [], []
    for c, n in enumerate(counts, 1):
        for k in range(n):
            rel = f'{cub_class_name(c)}/img_{c:03d}_{k:04d}.jpg'
            _write_image(osp.join(root, 'images', rel), c, k, size)
            image_id = len(images) + 1
            images.append(f'{image_id} {rel}')
            labels.append(f'{image_id} {c}')
            split.append(f'{image_id} {k % 2}')
    files = {
        'images.txt': images,
        'image_class_labels.txt': labels,
        'train_test_split.txt': split,
        'classes.txt': [f'{c} {cub_class_name(c)}'
                        for c in range(1, num_classes + 1)],
    }
    for name, lines in files.items():
        with open(osp.join(root, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def _save_annotations(path: str, fields: Sequence[str],
                      rows: Sequence[tuple]) -> None:
    """A MATLAB file with a 1 x N struct array ``annotations`` whose
    numeric fields are uint8 / uint16 scalars, as in the devkit."""
    from scipy.io import savemat
    struct = np.zeros((1, len(rows)), dtype=[(f, 'O') for f in fields])
    for i, row in enumerate(rows):
        struct[0, i] = tuple(
            v if isinstance(v, str) else np.array(
                [[v]], dtype=np.uint8 if v < 256 else np.uint16)
            for v in row)
    os.makedirs(osp.dirname(path), exist_ok=True)
    savemat(path, {'annotations': struct})


def write_stanford_cars(root: str, images_per_class: PerClass,
                        num_classes: int = 196, layout: str = 'devkit',
                        size: int = 8) -> str:
    """Write Stanford Cars under ``root``: image ``k`` of a class goes to
    the official training split for even ``k``, to the test split for odd
    ``k``; classes are interleaved in each annotation file as in the
    release. ``layout='devkit'`` writes ``devkit/cars_train_annos.mat``,
    ``devkit/cars_test_annos_withlabels.mat``, ``cars_train/``,
    ``cars_test/``; ``layout='car_ims'`` writes ``cars_annos.mat`` and
    ``car_ims/``. Returns ``root``."""
    if layout not in ('devkit', 'car_ims'):
        raise ValueError(f"layout must be 'devkit' or 'car_ims', got "
                         f'{layout!r}')
    counts = _per_class(images_per_class, num_classes)
    # (class id 1-based, k) in release-like interleaved order
    order = sorted(((c, k) for c, n in enumerate(counts, 1)
                    for k in range(n)), key=lambda t: (t[1] // 2, t[0]))
    bbox = (1, 1, size, size)
    if layout == 'car_ims':
        rows = []
        for i, (c, k) in enumerate(order, 1):
            rel = f'car_ims/{i:06d}.jpg'
            _write_image(osp.join(root, rel), c, k, size)
            rows.append(bbox + (rel, c, k % 2))
        _save_annotations(
            osp.join(root, 'cars_annos.mat'),
            ('bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'relative_im_path',
             'class', 'test'), rows)
        return root
    for folder, name, parity in (
            ('cars_train', 'cars_train_annos.mat', 0),
            ('cars_test', 'cars_test_annos_withlabels.mat', 1)):
        rows = []
        for c, k in order:
            if k % 2 != parity:
                continue
            fname = f'{len(rows) + 1:05d}.jpg'
            _write_image(osp.join(root, folder, fname), c, k, size)
            rows.append(bbox + (c, fname))
        _save_annotations(
            osp.join(root, 'devkit', name),
            ('bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'fname'),
            rows)
    return root


def mini_imagenet_wnids(num_classes: Tuple[int, int, int] = (64, 16, 20)
                        ) -> List[List[str]]:
    """WordNet-id-like labels of the train, val and test classes."""
    first = 0
    out = []
    for n in num_classes:
        out.append([f'n{1000000 + 7919 * i:08d}'
                    for i in range(first, first + n)])
        first += n
    return out


def write_mini_imagenet(root: str, images_per_class: PerClass,
                        num_classes: Tuple[int, int, int] = (64, 16, 20),
                        size: int = 8) -> str:
    """Write ``train.csv``, ``val.csv``, ``test.csv`` (``filename,label``
    rows grouped by class) and ``images/`` under ``root`` with
    ``num_classes`` = (train, val, test) classes. Returns ``root``."""
    counts = iter(_per_class(images_per_class, sum(num_classes)))
    label = 0
    for name, wnids in zip(('train.csv', 'val.csv', 'test.csv'),
                           mini_imagenet_wnids(num_classes)):
        rows = [('filename', 'label')]
        for wnid in wnids:
            for k in range(next(counts)):
                fname = f'{wnid}{k + 1:08d}.jpg'
                _write_image(osp.join(root, 'images', fname), label, k, size)
                rows.append((fname, wnid))
            label += 1
        os.makedirs(root, exist_ok=True)
        with open(osp.join(root, name), 'w', newline='') as f:
            csv.writer(f, lineterminator='\n').writerows(rows)
    return root


def write_cifar100(root: str, images_per_class: PerClass) -> str:
    """Write ``cifar-100-python/train``, ``test`` and ``meta`` under
    ``root``: of each class's images, five sixths (rounded up) go to
    ``train`` and the rest to ``test``, as 500 / 100 in the real set, with
    the classes interleaved as in the real files. Image ``j`` of class
    ``c`` is the class colour plus one of 16 noise patterns. Returns
    ``root``."""
    from mmpretrain.datasets.categories import CIFAR100_CATEGORIES
    counts = _per_class(images_per_class, 100)
    rng = np.random.default_rng(0)
    noise = rng.integers(-12, 13, size=(16, 3072), dtype=np.int16)
    colours = rng.integers(30, 226, size=(100, 3),
                           dtype=np.int16).repeat(1024, axis=1)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for name, first, stop in (('train', lambda n: 0, lambda n: n - n // 6),
                              ('test', lambda n: n - n // 6, lambda n: n)):
        rows = sorted((j, c) for c, n in enumerate(counts)
                      for j in range(first(n), stop(n)))
        order = np.array(rows, dtype=np.int64).reshape(-1, 2)
        labels = order[:, 1].tolist()
        data = colours[order[:, 1]]
        data += noise[order[:, 0] % 16]
        data = data.clip(0, 255).astype(np.uint8)
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, 'fine_labels': labels,
                         'coarse_labels': [c // 5 for c in labels]}, f)
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump({'fine_label_names': list(CIFAR100_CATEGORIES),
                     'coarse_label_names': [str(i) for i in range(20)]}, f)
    return root
