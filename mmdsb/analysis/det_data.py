"""Ground-truth instances of a detection dataset as analysis samples.

In detection a sample of a class is one ground-truth instance (mmdsb's
choice, as in :mod:`mmdsb.det.models.instance_features`: the paper leaves
detection to future work, App. L.3). Its sample vector is the crop of its
box from the image, resized like a classification image (paper App. E:
``16 x 16 x 3``, flattened), which gives every instance the same
dimension. Instances marked
``ignore_flag`` (crowd boxes) are left out, as mmdet's ``PackDetInputs``
leaves them out of ``gt_instances``. The crop covers every pixel the box
touches: rows ``floor(y1) .. ceil(y2) - 1`` and columns
``floor(x1) .. ceil(x2) - 1``, clipped to the image.

The LVIS frequency group (``r``, ``c``, ``f``) of each class is read from
the ``categories`` of the dataset's annotation file.
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.fileio import load
from torch import Tensor

from .data import AnalysisError, image_vector, read_image
from .progress import progress_bar

FREQUENCY_GROUPS = ('r', 'c', 'f')


def is_detection(dataset) -> bool:
    """Whether the data infos of ``dataset`` hold mmdet ``instances``."""
    return len(dataset) > 0 and 'instances' in dataset.get_data_info(0)


def box_crop(img: np.ndarray, bbox: Sequence[float],
             where: str) -> np.ndarray:
    """The pixels of ``img`` covered by ``bbox`` (``x1, y1, x2, y2``)."""
    h, w = img.shape[:2]
    x1, y1 = max(math.floor(bbox[0]), 0), max(math.floor(bbox[1]), 0)
    x2, y2 = min(math.ceil(bbox[2]), w), min(math.ceil(bbox[3]), h)
    if x2 <= x1 or y2 <= y1:
        raise AnalysisError(
            f'the box {list(bbox)} of {where} covers no pixel of its '
            f'{w}x{h} image')
    return img[y1:y2, x1:x2]


def crop_vectors(dataset,
                 image_size: int = 16,
                 progress: bool = True) -> Tuple[Tensor, Tensor]:
    """Every ground-truth instance of ``dataset`` as an
    ``image_size**2 * 3`` float32 pixel vector of its box crop, with its
    label; images in dataset order, instances in annotation order."""
    if image_size < 1:
        raise AnalysisError(f'image size must be positive, got {image_size}')
    bar = progress_bar(len(dataset), 'images') if progress else None
    vectors: List[np.ndarray] = []
    labels: List[int] = []
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        kept = [i for i in info.get('instances', [])
                if not i.get('ignore_flag', 0)]
        if kept:
            img = read_image(info)
            where = f'image {info.get("img_path", idx)}'
            for inst in kept:
                crop = box_crop(img, inst['bbox'], where)
                vectors.append(image_vector(crop, image_size))
                labels.append(int(inst['bbox_label']))
        if bar:
            bar.update()
    if bar:
        bar.finish()
    if not vectors:
        raise AnalysisError('the dataset holds no ground-truth instances; '
                            'check its annotation file')
    return (torch.from_numpy(np.stack(vectors)),
            torch.tensor(labels, dtype=torch.long))


def frequency_groups(dataset,
                     num_classes: int) -> Optional[List[Optional[str]]]:
    """The LVIS frequency group of every class, from the ``categories`` of
    the dataset's annotation file; ``None`` when the file gives none (COCO
    and other non-LVIS annotations)."""
    ann_file = getattr(dataset, 'ann_file', None)
    cat2label = getattr(dataset, 'cat2label', None)
    if not ann_file or not cat2label:
        return None
    categories = load(ann_file).get('categories', [])
    if not any('frequency' in cat for cat in categories):
        return None
    groups: List[Optional[str]] = [None] * num_classes
    for cat in categories:
        label = cat2label.get(cat['id'])
        if label is None or label >= num_classes:
            continue
        group = cat.get('frequency')
        if group not in FREQUENCY_GROUPS:
            raise AnalysisError(
                f'category {cat.get("name", cat["id"])!r} of {ann_file} has '
                f'frequency {group!r}; LVIS groups are r, c and f')
        groups[label] = group
    return groups
