"""Small real-format datasets written by the tests themselves."""
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
            rel = f'{label:03d}/{osp.splitext(name)[0]}_{i:04d}.png'
            path = osp.join(root, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            cv2.imwrite(path, img.astype(np.uint8))
            lines.append(f'{rel} {label}')
    ann = osp.join(root, name)
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
        files = {f'data_batch_{i + 1}': ([train[0][p], [train[1][j]
                                                       for j in p]])
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
