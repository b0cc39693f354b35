"""Long-tailed digit detection in the LVIS v1 format.

The handwritten digits bundled with scikit-learn (``load_digits``: 1797
grayscale 8x8 images, values 0..16) are enlarged by an integer factor
(nearest neighbour, so no pixel leaks outside the digit) and pasted on a
black square canvas, one digit per cell of a 2x2 grid, so digits never
overlap. Every box is therefore known exactly: it is the tight box of the
digit's non-zero pixels. The mask of an instance is its box (a rectangle
polygon), so Mask R-CNN and ``LVISMetric(metric='segm')`` run unchanged.

The training set is long-tailed over the 10 classes: its ``T`` instances are
split as ``n_i proportional to imbalance_ratio ** (-i / 9)`` (class 0 the
head, class 9 the tail, every class at least one instance, largest
remainders break ties). The validation set is balanced (labels cycle over
the classes), and its digits come from a disjoint part of ``load_digits``.

Both annotation files share the categories of the training set, as LVIS v1
does: ``image_count`` (training images holding the class), ``instance_count``
and ``frequency`` by LVIS's rule, ``r`` for at most 10 images, ``c`` for
11..100, ``f`` for more. A small fixture (tens of images) has no ``f`` class
under this rule; it may pass smaller ``frequency_thresholds`` to get all
three groups. Every image carries ``neg_category_ids`` (all classes absent
from it: the labelling is exhaustive) and an empty
``not_exhaustive_category_ids``.

Layout written under ``root`` (what ``mmdet``'s ``LVISV1Dataset`` expects with
``data_root=root`` and ``data_prefix=dict(img='')``)::

    annotations/lvis_v1_train.json
    annotations/lvis_v1_val.json
    train2017/000000000001.png ...
    val2017/000000000001.png ...

Images also carry ``file_name`` and annotations ``iscrowd=0``, so the same
files serve COCO configs too (``CocoDataset`` with
``data_prefix=dict(img='train2017/')`` and ``CocoMetric``).
"""
import json
import numbers
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from sklearn.datasets import load_digits

DIGIT_CLASSES = tuple(str(i) for i in range(10))
DIGIT_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six',
               'seven', 'eight', 'nine')
# LVIS v1: rare <= 10 training images, common <= 100, frequent above.
LVIS_FREQUENCY_THRESHOLDS = (10, 100)
# Digits of each class kept apart for the validation set.
VAL_DIGITS_PER_CLASS = 60
URL_PREFIX = 'http://images.cocodataset.org/'


def lvis_frequency(image_count: int,
                   thresholds: Sequence[int] = LVIS_FREQUENCY_THRESHOLDS
                   ) -> str:
    """LVIS frequency group of a class seen in ``image_count`` images."""
    rare_max, common_max = thresholds
    if image_count <= rare_max:
        return 'r'
    return 'c' if image_count <= common_max else 'f'


def long_tailed_split(total: int, imbalance_ratio: float,
                      num_classes: int = 10) -> Tuple[int, ...]:
    """Split ``total`` instances over classes proportionally to
    ``imbalance_ratio ** (-i / (C - 1))``, each class at least one.

    Largest remainders round the shares, so the counts sum to ``total``.
    """
    if total < num_classes:
        raise ValueError(f'{total} training instances cannot cover '
                         f'{num_classes} classes; use more training images')
    weights = imbalance_ratio**(-np.arange(num_classes) /
                                max(num_classes - 1, 1))
    spare = total - num_classes  # one instance per class is fixed
    shares = spare * weights / weights.sum()
    counts = np.floor(shares).astype(int)
    order = np.argsort(-(shares - counts), kind='stable')
    counts[order[:spare - counts.sum()]] += 1
    return tuple(int(c) + 1 for c in counts)


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(
            value, numbers.Integral) or value < low:
        raise ValueError(f'write_digits_lvis {name} must be an integer >= '
                         f'{low}, got {value!r}')
    return int(value)


def _tight_box(digit: np.ndarray) -> Tuple[int, int, int, int]:
    """``(x, y, w, h)`` of the non-zero pixels of ``digit``."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1))


class _DigitPool:
    """Cycles through a shuffled list of ``load_digits`` rows per class."""

    def __init__(self, rows_per_class):
        self.rows = rows_per_class
        self.next = [0] * len(rows_per_class)

    def take(self, label):
        rows = self.rows[label]
        row = rows[self.next[label] % len(rows)]
        self.next[label] += 1
        return int(row)


def _write_split(root, split, labels_per_image, pool, images, scales,
                 canvas, rng, first_ann_id):
    """Draw and save the images of one split; return LVIS images and
    annotations (``neg_category_ids`` filled in by the caller)."""
    folder = f'{split}2017'
    os.makedirs(osp.join(root, folder), exist_ok=True)
    cell = canvas // 2
    lvis_images, annotations = [], []
    ann_id = first_ann_id
    for index, labels in enumerate(labels_per_image):
        image_id = index + 1
        img = np.zeros((canvas, canvas), np.uint8)
        cells = rng.permutation(4)[:len(labels)].tolist()
        for label, cell_index in zip(labels, cells):
            row = pool.take(label)
            scale = int(rng.choice(scales))
            digit = np.kron(images[row],
                            np.ones((scale, scale), np.uint8))
            size = 8 * scale
            top = cell * (cell_index // 2) + int(rng.integers(
                0, cell - size + 1))
            left = cell * (cell_index % 2) + int(rng.integers(
                0, cell - size + 1))
            img[top:top + size, left:left + size] = digit
            x, y, w, h = _tight_box(digit)
            x, y = x + left, y + top
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=label + 1,
                    bbox=[x, y, w, h],
                    area=w * h,
                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
                    iscrowd=0,
                    digit_index=row))
            ann_id += 1
        file_name = f'{image_id:012d}.png'
        cv2.imwrite(osp.join(root, folder, file_name), img)
        lvis_images.append(
            dict(
                id=image_id,
                width=canvas,
                height=canvas,
                coco_url=f'{URL_PREFIX}{folder}/{file_name}',
                file_name=file_name,
                not_exhaustive_category_ids=[],
                neg_category_ids=[]))
    return lvis_images, annotations


def write_digits_lvis(root: str,
                      num_train: int = 300,
                      num_val: int = 100,
                      canvas: int = 64,
                      seed: int = 0,
                      imbalance_ratio: float = 50,
                      max_per_image: int = 3,
                      scales: Optional[Sequence[int]] = None,
                      frequency_thresholds: Sequence[int] = (
                          LVIS_FREQUENCY_THRESHOLDS)) -> dict:
    """Write the long-tailed digit detection set (see module doc).

    Args:
        root (str): Output folder (created if missing).
        num_train (int): Training images. Defaults to 300, which gives
            frequent, common and rare classes under LVIS's rule.
        num_val (int): Validation images. Defaults to 100.
        canvas (int): Side of the square images in pixels, at least 32.
            Defaults to 64.
        seed (int): Seed of all random choices. Defaults to 0.
        imbalance_ratio (float): Share of class 0 over the share of class 9
            among training instances, ``>= 1``. Defaults to 50.
        max_per_image (int): Each image holds 1 to ``max_per_image``
            digits (at most 4, one per grid cell). Defaults to 3.
        scales (Sequence[int], optional): Integer enlargement factors of the
            8x8 digits. Defaults to every factor from 2 up to the one that
            fills a grid cell (2, 3, 4 for a 64 px canvas).
        frequency_thresholds (Sequence[int]): Largest image counts of rare
            and common classes. Defaults to LVIS's ``(10, 100)``.

    Returns:
        dict: ``data_root``, ``train_ann_file`` and ``val_ann_file``
        (absolute paths), ``classes`` (the class names ``'0'`` .. ``'9'``,
        for ``metainfo``) and ``frequency`` (the group of each class).
    """
    num_train = _check_int('num_train', num_train, 1)
    num_val = _check_int('num_val', num_val, 1)
    canvas = _check_int('canvas', canvas, 32)
    seed = _check_int('seed', seed, 0)
    max_per_image = _check_int('max_per_image', max_per_image, 1)
    if max_per_image > 4:
        raise ValueError('write_digits_lvis places at most 4 digits per '
                         f'image (a 2x2 grid), got max_per_image='
                         f'{max_per_image}')
    if isinstance(imbalance_ratio, bool) or not isinstance(
            imbalance_ratio, numbers.Real) or not imbalance_ratio >= 1:
        raise ValueError('write_digits_lvis imbalance_ratio must be a number'
                         f' >= 1, got {imbalance_ratio!r}')
    largest_scale = canvas // 2 // 8
    scales = tuple(range(2, largest_scale + 1)) if scales is None else \
        tuple(scales)
    if not scales or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral)
            or not 1 <= s <= largest_scale for s in scales):
        raise ValueError(
            f'write_digits_lvis scales must be integers in [1, '
            f'{largest_scale}] so that a digit fits a grid cell of a '
            f'{canvas} px canvas, got {scales!r}')
    if len(frequency_thresholds) != 2 or not (
            0 < frequency_thresholds[0] < frequency_thresholds[1]):
        raise ValueError('write_digits_lvis frequency_thresholds must be '
                         '(rare_max, common_max) with 0 < rare_max < '
                         f'common_max, got {frequency_thresholds!r}')

    rng = np.random.default_rng(seed)
    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    num_classes = len(DIGIT_CLASSES)
    orders = [
        rng.permutation(np.flatnonzero(digits.target == c))
        for c in range(num_classes)
    ]
    val_pool = _DigitPool([o[:VAL_DIGITS_PER_CLASS] for o in orders])
    train_pool = _DigitPool([o[VAL_DIGITS_PER_CLASS:] for o in orders])

    # Training: long-tailed labels, shuffled, dealt to the images.
    sizes = rng.integers(1, max_per_image + 1, size=num_train)
    counts = long_tailed_split(int(sizes.sum()), imbalance_ratio,
                               num_classes)
    labels = rng.permutation(np.repeat(np.arange(num_classes), counts))
    bounds = np.cumsum(sizes)[:-1]
    train_labels = [part.tolist() for part in np.split(labels, bounds)]
    # Validation: balanced, labels cycle over the classes.
    sizes = rng.integers(1, max_per_image + 1, size=num_val)
    labels = np.arange(int(sizes.sum())) % num_classes
    val_labels = [part.tolist() for part in
                  np.split(rng.permutation(labels), np.cumsum(sizes)[:-1])]

    train_images, train_anns = _write_split(root, 'train', train_labels,
                                            train_pool, images, scales,
                                            canvas, rng, 1)
    val_images, val_anns = _write_split(root, 'val', val_labels, val_pool,
                                        images, scales, canvas, rng,
                                        len(train_anns) + 1)

    image_count = [
        sum(c in set(labels) for labels in train_labels)
        for c in range(num_classes)
    ]
    categories = [
        dict(
            id=c + 1,
            name=DIGIT_CLASSES[c],
            synset=f'digit_{DIGIT_CLASSES[c]}.n.01',
            synonyms=[DIGIT_CLASSES[c], DIGIT_WORDS[c]],
            **{'def': f'the handwritten digit {DIGIT_WORDS[c]}'},
            image_count=image_count[c],
            instance_count=int(counts[c]),
            frequency=lvis_frequency(image_count[c], frequency_thresholds))
        for c in range(num_classes)
    ]
    all_ids = set(range(1, num_classes + 1))
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    paths = {}
    for split, lvis_images, anns in (('train', train_images, train_anns),
                                     ('val', val_images, val_anns)):
        present = {img['id']: set() for img in lvis_images}
        for ann in anns:
            present[ann['image_id']].add(ann['category_id'])
        for img in lvis_images:
            img['neg_category_ids'] = sorted(all_ids - present[img['id']])
        path = osp.join(ann_dir, f'lvis_v1_{split}.json')
        with open(path, 'w') as f:
            json.dump(
                dict(
                    info=dict(description='mmdsb long-tailed digits'),
                    licenses=[],
                    images=lvis_images,
                    annotations=anns,
                    categories=categories), f)
        paths[split] = path
    return dict(
        data_root=osp.abspath(root),
        train_ann_file=osp.abspath(paths['train']),
        val_ann_file=osp.abspath(paths['val']),
        classes=DIGIT_CLASSES,
        frequency=tuple(cat['frequency'] for cat in categories))
