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
