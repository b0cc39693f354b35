"""Small real-format datasets written by the tests themselves."""
import json
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np


def write_image_list(root: str, counts: Sequence[int], size: int = 32,
                     seed: int = 0, name: str = 'train.txt',
                     labels: Optional[Sequence[int]] = None) -> str:
    """Write PNG images of ``len(counts)`` classes and an annotation list of
    ``path label`` lines (the ImageNet-LT split-list layout).

    ``labels`` gives the label of each class (default ``0 .. C-1``). Each
    class has its own mean colour and stripe orientation plus noise, so
    that a small network learns it within a few epochs.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for label, n in zip(labels or range(len(counts)), counts):
        colour = rng.integers(40, 216, size=3)
        for i in range(n):
            img = np.clip(
                colour + rng.normal(0, 25, (size, size, 3)), 0, 255)
            stripe = (np.arange(size) // 4 + label) % 2 == 0
            if label % 2:
                img[:, stripe] *= 0.5
            else:
                img[stripe] *= 0.5
            rel = (f'{label:03d}/{osp.splitext(osp.basename(name))[0]}_'
                   f'{i:04d}.png')
            path = osp.join(root, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, img.astype(np.uint8))
            lines.append(f'{rel} {label}')
    ann = osp.join(root, name)
    os.makedirs(osp.dirname(ann), exist_ok=True)
    with open(ann, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return ann


def write_cifar_pickles(root: str, num_classes: int = 10,
                        train_per_class: int = 6, test_per_class: int = 2,
                        seed: int = 0) -> str:
    """Write CIFAR python pickles (``cifar-10-batches-py`` for 10 classes,
    ``cifar-100-python`` for 100) under ``root``; return ``root``.

    Class ``c`` has its own mean colour plus noise. Training images are
    interleaved over classes and, for CIFAR-10, spread over the five
    ``data_batch_*`` files, as in the real sets.
    """
    import pickle
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 226, size=(num_classes, 3))

    def images(per_class):
        labels = np.tile(np.arange(num_classes), per_class)
        data = np.clip(colours[labels][:, :, None] + rng.normal(
            0, 20, (len(labels), 3, 1024)), 0, 255).astype(np.uint8)
        return data.reshape(len(labels), 3072), labels.tolist()

    train, test = images(train_per_class), images(test_per_class)
    if num_classes == 10:
        folder = osp.join(root, 'cifar-10-batches-py')
        key = 'labels'
        parts = np.array_split(np.arange(len(train[1])), 5)
        files = {f'data_batch_{i + 1}': [train[0][p],
                                         [train[1][j] for j in p]]
                 for i, p in enumerate(parts)}
        files['test_batch'] = test
    else:
        folder = osp.join(root, 'cifar-100-python')
        key = 'fine_labels'
        files = {'train': train, 'test': test}
    os.makedirs(folder, exist_ok=True)
    for name, (data, labels) in files.items():
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, key: list(labels)}, f)
    return root


def write_mnist_idx(root: str, train_counts: Sequence[int],
                    test_counts: Sequence[int], gz: bool = False,
                    seed: int = 0) -> str:
    """Write the four MNIST idx files (optionally ``.gz``) with
    ``train_counts[c]`` / ``test_counts[c]`` 28x28 images of digit ``c``
    (labels interleaved, as in the real files); return ``root``."""
    import gzip
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for prefix, counts in (('train', train_counts), ('t10k', test_counts)):
        labels = np.concatenate(
            [np.full(n, c, dtype=np.uint8) for c, n in enumerate(counts)])
        labels = labels[rng.permutation(len(labels))]
        # Digit c is a bright square at a class-specific place.
        images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
        for c in range(len(counts)):
            r, col = divmod(c, 4)
            images[labels == c, 2 + 6 * r:8 + 6 * r, 2 + 6 * col:8 + 6 *
                   col] = 200
        for name, array in ((f'{prefix}-images-idx3-ubyte', images),
                            (f'{prefix}-labels-idx1-ubyte', labels)):
            header = (0x0800 + array.ndim).to_bytes(4, 'big') + b''.join(
                int(s).to_bytes(4, 'big') for s in array.shape)
            opener = gzip.open if gz else open
            with opener(osp.join(root, name + ('.gz' if gz else '')),
                        'wb') as f:
                f.write(header + array.tobytes())
    return root


def write_inat_json(root: str, counts: Sequence[int],
                    val_counts: Sequence[int],
                    labels: Optional[Sequence[int]] = None,
                    size: int = 32) -> str:
    """Write PNG images and iNaturalist-2018-style ``train2018.json`` /
    ``val2018.json`` (COCO-like) under ``root``; return ``root``."""
    labels = list(labels if labels is not None else range(len(counts)))
    for split, per_class in (('train', counts), ('val', val_counts)):
        write_image_list(root, per_class, size=size, labels=labels,
                         name=f'{split}.txt', seed=0 if split == 'train'
                         else 1)
        with open(osp.join(root, f'{split}.txt')) as f:
            rows = [line.split() for line in f if line.strip()]
        data = dict(
            images=[dict(id=i + 7, file_name=p, width=size, height=size)
                    for i, (p, _) in enumerate(rows)],
            annotations=[dict(id=i, image_id=i + 7, category_id=int(lab))
                         for i, (_, lab) in enumerate(rows)],
            categories=[dict(id=lab, name=str(lab)) for lab in labels])
        with open(osp.join(root, f'{split}2018.json'), 'w') as f:
            json.dump(data, f)
    return root


def write_glt_annotations(root: str, train_glt: Sequence[int],
                          train_cbl: Sequence[int], test_per_class: int = 2,
                          size: int = 32) -> str:
    """Write the MSCOCO-GLT release layout under ``root``:
    ``coco_glt/annotation.json`` (training counts ``train_glt``) and
    ``coco_cbl/annotation.json`` (``train_cbl``), each with the splits
    train, val, test_lt, test_bl and test_bbl (``test_per_class`` images a
    class in each test split, one in val) and its images in ``images/``.
    Paths are absolute paths of another machine, as in the release; image
    ``i`` of a class gets attribute ``i % 3``. Returns ``root``."""
    n = len(train_glt)
    splits = dict(val=[1] * n, test_lt=[test_per_class] * n,
                  test_bl=[test_per_class] * n,
                  test_bbl=[test_per_class] * n)
    for subset, train in (('coco_glt', train_glt), ('coco_cbl', train_cbl)):
        images = osp.join(root, subset, 'images')
        data = dict(cat2id={str(c): c for c in range(n)})
        for seed, (split, counts) in enumerate(
                dict(train=train, **splits).items()):
            ann = write_image_list(osp.join(root, 'tmp'), counts, size=size,
                                   seed=seed, name=f'{subset}_{split}.txt')
            entry = dict(label={}, path={}, attribute={}, frequency={})
            seen = {}
            with open(ann) as f:
                for line in f:
                    rel, label = line.split()
                    key = f'{subset}-{split}-{len(entry["label"])}'
                    os.makedirs(images, exist_ok=True)
                    os.replace(osp.join(root, 'tmp', rel),
                               osp.join(images, f'{key}.jpg'))
                    k = seen[label] = seen.get(label, -1) + 1
                    entry['label'][key] = int(label)
                    entry['path'][key] = f'/data4/coco_glt/{subset}/' \
                        f'images/{key}.jpg'
                    entry['attribute'][key] = k % 3
                    entry['frequency'][key] = 0
            data[split] = entry
        with open(osp.join(root, subset, 'annotation.json'), 'w') as f:
            json.dump(data, f)
    return root
