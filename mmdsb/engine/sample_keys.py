"""Which slot of a per-sample bank each row of a batch belongs to.

A per-sample bank (:class:`~mmdsb.sample_bank.SampleBank`) keeps one row
per sample of the training set. A key table maps the data samples of a
batch to the key of their first row: in classification a sample is an
image and its key its index in the training set (the ``sample_idx`` that
mmengine's datasets put in every data sample); a detection consumer keys
each ground-truth instance (``mmdsb.det``'s table). Rows of one data
sample are ``first key + instance index``.

mmengine's repeating wrappers (``RepeatDataset``, ``ClassBalancedDataset``)
hand out the wrapped dataset's own ``sample_idx``, so a repeated image
returns to its own slot: the keys are those of the innermost dataset.
"""
from abc import ABC, abstractmethod
from typing import Sequence

import torch
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)
from torch import Tensor

__all__ = ['SampleKeys', 'DatasetIndexKeys', 'distinct_dataset']


def distinct_dataset(dataset):
    """The dataset whose indices are the distinct samples: ``dataset``
    without mmengine's repeating wrappers."""
    while isinstance(dataset, (RepeatDataset, ClassBalancedDataset)):
        dataset = dataset.dataset
    if isinstance(dataset, ConcatDataset):
        raise ValueError(
            "bank_policy='per_sample' keys a sample by its sample_idx, "
            'which each part of a ConcatDataset numbers from 0; use '
            "bank_policy='fifo' with a ConcatDataset")
    return dataset


def sample_index(sample, num_samples: int) -> int:
    """The ``sample_idx`` of a data sample, checked."""
    metainfo = getattr(sample, 'metainfo', None)
    if not isinstance(metainfo, dict) or 'sample_idx' not in metainfo:
        raise KeyError(
            "bank_policy='per_sample' needs the sample_idx of every "
            'training sample in its metainfo; keep sample_idx in the '
            "meta_keys of the packing transform (mmpretrain's PackInputs "
            'keeps it by default)')
    idx = int(metainfo['sample_idx'])
    if not 0 <= idx < num_samples:
        raise ValueError(f'sample_idx {idx} lies outside the {num_samples} '
                         'samples of the training set')
    return idx


class SampleKeys(ABC):
    """Base of the key tables: ``num_samples`` slots, and the first key of
    every data sample of a batch."""

    num_samples: int

    @abstractmethod
    def batch_keys(self, data_samples: Sequence) -> Tensor:
        """``(B,)`` first key of each data sample of a rank's batch."""

    def notes(self) -> Sequence[str]:
        """What the table had to assume since the last call, for the log
        (e.g. a pipeline that dropped instances)."""
        return ()


class DatasetIndexKeys(SampleKeys):
    """One slot per distinct sample of the training set, keyed by its
    ``sample_idx``."""

    def __init__(self, dataset):
        self.num_samples = len(distinct_dataset(dataset))

    def batch_keys(self, data_samples: Sequence) -> Tensor:
        return torch.tensor(
            [sample_index(s, self.num_samples) for s in data_samples],
            dtype=torch.long)
