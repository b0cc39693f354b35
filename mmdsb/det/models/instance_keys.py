"""The slots of a per-sample bank in detection: one per ground-truth
instance (not ignored) of the training set, image after image.

An instance's key is its image's first key (found by the ``img_id`` that
mmdet's ``PackDetInputs`` keeps in every data sample) plus its index among
the image's instances, which is the order of ``gt_instances`` after
``PackDetInputs`` has set the ignored ones apart.
"""
from typing import Dict, List, Sequence

import torch
from torch import Tensor

from ...engine.sample_keys import SampleKeys, distinct_dataset
from .instances import instances_per_image

__all__ = ['InstanceKeys']


class InstanceKeys(SampleKeys):
    """Key table of the ground-truth instances of a detection dataset."""

    def __init__(self, dataset):
        dataset = distinct_dataset(dataset)
        self.counts: List[int] = instances_per_image(dataset)
        self.first: Dict[int, int] = {}
        self.image_of: Dict[int, int] = {}
        start = 0
        for i, count in enumerate(self.counts):
            img_id = dataset.get_data_info(i).get('img_id', i)
            if img_id in self.image_of:
                raise ValueError(
                    f"img_id {img_id} names two images of the training "
                    "set; bank_policy='per_sample' finds an image's "
                    "instances by its img_id: use bank_policy='fifo'")
            self.image_of[img_id] = i
            self.first[img_id] = start
            start += count
        self.num_samples = start
        self._fewer = 0  # images with fewer instances than annotated
        self._said = False

    def batch_keys(self, data_samples: Sequence) -> Tensor:
        keys = []
        for sample in data_samples:
            img_id = sample.metainfo.get('img_id')
            if img_id not in self.first:
                raise KeyError(
                    f'img_id {img_id!r} of a training sample is not an '
                    "image of the training set; bank_policy='per_sample' "
                    "needs img_id in the meta_keys of PackDetInputs")
            n, annotated = len(sample.gt_instances), self.counts[
                self.image_of[img_id]]
            if n > annotated:
                raise ValueError(
                    f'image {img_id} has {n} ground-truth instances after '
                    f'the pipeline but {annotated} in its annotations (a '
                    "mixing transform?); bank_policy='per_sample' keys "
                    "instances by image: use bank_policy='fifo'")
            self._fewer += n < annotated
            keys.append(self.first[img_id])
        return torch.tensor(keys, dtype=torch.long)

    def notes(self) -> Sequence[str]:
        if self._said or not self._fewer:
            return ()
        self._said = True
        return (f'{self._fewer} image(s) came out of the pipeline with '
                'fewer ground-truth instances than annotated (a crop or a '
                "filter dropped some); their instances take the image's "
                'bank slots in order, so a dropped instance keeps its last '
                'feature, or another instance of the image takes its slot', )
