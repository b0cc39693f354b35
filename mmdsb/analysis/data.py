"""Datasets of a training config and their images as flat sample vectors.

The sample volume of the DSB paper (App. E, Algorithm 1) resizes every image
to ``16 x 16 x 3``, flattens it and measures the volume of the pixel vectors
of each class. The images are read from the dataset's data infos (the
``img`` array that in-memory datasets such as CIFAR, MNIST or ``DigitsLT``
keep, or the file at ``img_path``), never through the training pipeline, so
no augmentation changes them.
"""
import copy
import sys
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.fileio import get as read_bytes
from mmengine.registry import DATASETS, init_default_scope
from mmengine.utils import import_modules_from_strings
from torch import Tensor

from .progress import progress_bar

SPLITS = ('train', 'val', 'test')
# Dataset wrappers that repeat samples; the analysis looks through them,
# since repeated images would inflate the class counts.
_REPEATING_WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset')


class AnalysisError(ValueError):
    """Bad input to an analysis: the message says what and where."""


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config as training does: overrides, custom imports and the
    config's ``default_scope`` (``mmpretrain`` when it names none, as
    ``tools/train.py`` and ``tools/test.py`` assume)."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    cfg.setdefault('default_scope', 'mmpretrain')
    init_default_scope(cfg.default_scope)
    return cfg


def dataset_cfg(cfg: Config, split: str) -> dict:
    """The dataset config of the ``{split}_dataloader``."""
    if split not in SPLITS:
        raise AnalysisError(
            f'split must be one of {SPLITS}, got {split!r}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise AnalysisError(
            f'the config has no {split}_dataloader.dataset; pick another '
            f'split with --split ({", ".join(SPLITS)})')
    ds_cfg = copy.deepcopy(loader['dataset'])
    while ds_cfg.get('type') in _REPEATING_WRAPPERS:
        print(f'note: analysing the dataset inside {ds_cfg["type"]} of the '
              f'{split} split, without its repetitions', file=sys.stderr)
        ds_cfg = copy.deepcopy(ds_cfg['dataset'])
    return ds_cfg


def eval_pipeline(cfg: Config, split: str = 'train') -> Optional[list]:
    """The deterministic pipeline of ``split``: its own for ``val`` and
    ``test`` (the one the Runner evaluates with), else the test (then val)
    dataloader's, so that features of the training split are not taken
    from randomly augmented images."""
    order = [split] if split in ('val', 'test') else []
    for name in order + ['test', 'val']:
        loader = cfg.get(f'{name}_dataloader') or {}
        ds_cfg = loader.get('dataset') or {}
        while ds_cfg.get('type') in _REPEATING_WRAPPERS:
            ds_cfg = ds_cfg['dataset']
        if ds_cfg.get('pipeline') is not None:
            return copy.deepcopy(ds_cfg['pipeline'])
    return None


def _set_pipeline(ds_cfg: dict, pipeline: list) -> None:
    """Give every dataset inside (concatenation) wrappers ``pipeline``."""
    if ds_cfg.get('datasets') is not None:
        for sub in ds_cfg['datasets']:
            _set_pipeline(sub, pipeline)
    elif ds_cfg.get('dataset') is not None:
        _set_pipeline(ds_cfg['dataset'], pipeline)
    else:
        ds_cfg['pipeline'] = copy.deepcopy(pipeline)


def build_dataset(cfg: Config, split: str, pipeline=None):
    """Build the dataset of ``split``; ``pipeline`` replaces its pipeline
    (``[]`` for raw data infos). Raises :class:`AnalysisError` for a split
    without samples."""
    ds_cfg = dataset_cfg(cfg, split)
    if pipeline is not None:
        _set_pipeline(ds_cfg, pipeline)
    ds_type = ds_cfg.get('type')
    # Names resolve in the config's scope, as the Runner resolves them.
    with DATASETS.switch_scope_and_registry(
            cfg.get('default_scope')) as registry:
        cls = registry.get(ds_type) if isinstance(ds_type, str) else ds_type
    if isinstance(cls, type) and issubclass(cls, BaseDataset):
        # Serialising an empty data list fails with an obscure numpy
        # error; the analysis reads every sample once and needs no sharing.
        ds_cfg.setdefault('serialize_data', False)
    try:
        dataset = DATASETS.build(ds_cfg)
    except Exception as err:
        raise AnalysisError(
            f'could not build the {split} dataset ({ds_type}): '
            f'{type(err).__name__}: {err}') from err
    if len(dataset) == 0:
        raise AnalysisError(
            f'the {split} split ({ds_type}) has no samples; check its '
            'annotation file or data prefix')
    return dataset


def class_names(dataset, labels: Tensor) -> List[str]:
    """Class names from the dataset's metainfo, else ``'0'``, ``'1'`` ..."""
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    top = int(labels.max()) + 1 if labels.numel() else 0
    if classes:
        if top > len(classes):
            raise AnalysisError(
                f'labels go up to {top - 1} but the dataset names only '
                f'{len(classes)} classes')
        return [str(c) for c in classes]
    return [str(i) for i in range(top)]


def read_image(info: dict) -> np.ndarray:
    """The image of a data info, as stored (any channel order)."""
    if info.get('img') is not None:
        return np.asarray(info['img'])
    if info.get('img_path'):
        img = mmcv.imfrombytes(read_bytes(info['img_path']), flag='color')
        if img is None:
            raise AnalysisError(f'cannot decode image {info["img_path"]}')
        return img
    raise AnalysisError(
        'data infos hold neither an "img" array nor an "img_path"; the '
        f'sample volume needs the images (keys: {sorted(info)})')


def image_vector(img: np.ndarray, size: int = 16) -> np.ndarray:
    """Resize to ``size x size`` (bilinear), make 3 channels (grey images
    are replicated, alpha is dropped) and flatten to float32 pixel values.

    The volume is invariant under a permutation of the coordinates, so BGR
    and RGB images give the same result.
    """
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    img = mmcv.imresize(img, (size, size), interpolation='bilinear')
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    elif img.shape[2] != 3:
        raise AnalysisError(
            f'images must have 1, 3 or 4 channels, got shape {img.shape}')
    return img.astype(np.float32).reshape(-1)


class _VectorView(torch.utils.data.Dataset):
    """Sample vectors and labels of a dataset, for parallel loading."""

    def __init__(self, dataset, size: int):
        self.dataset = dataset
        self.size = size

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, idx):
        info = self.dataset.get_data_info(idx)
        label = int(np.asarray(info['gt_label']).reshape(-1)[0])
        return torch.from_numpy(image_vector(read_image(info),
                                             self.size)), label


def sample_vectors(dataset,
                   image_size: int = 16,
                   workers: int = 0,
                   batch_size: int = 64,
                   progress: bool = True) -> Tuple[Tensor, Tensor]:
    """All images of ``dataset`` as ``(N, image_size**2 * 3)`` float32 pixel
    vectors, with their ``(N,)`` labels, in dataset order."""
    if image_size < 1:
        raise AnalysisError(f'image size must be positive, got {image_size}')
    loader = torch.utils.data.DataLoader(
        _VectorView(dataset, image_size),
        batch_size=batch_size,
        num_workers=workers,
        shuffle=False)
    bar = progress_bar(len(dataset), 'images') if progress else None
    vectors, labels = [], []
    for vec, lab in loader:
        vectors.append(vec)
        labels.append(lab)
        if bar:
            bar.update(len(lab))
    if bar:
        bar.finish()
    return torch.cat(vectors), torch.cat(labels).long()


def select_classes(names: Sequence[str], wanted: Optional[Sequence[str]]):
    """Class indices from names or indices given on the command line
    (all classes when ``wanted`` is empty)."""
    if not wanted:
        return list(range(len(names)))
    out = []
    for item in wanted:
        if item in names:
            out.append(names.index(item))
        elif item.lstrip('-').isdigit() and 0 <= int(item) < len(names):
            out.append(int(item))
        else:
            raise AnalysisError(
                f'unknown class {item!r}: give a class name or an index in '
                f'[0, {len(names)})')
    return out
