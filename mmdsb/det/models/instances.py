"""Ground-truth instances as DSB samples: how many one epoch yields, the
foreground weights ``a_y`` and the room in a head's bank. Their features
are in :mod:`.instance_features`, which says why an instance is the
sample."""
from typing import List

import torch
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)
from torch import Tensor

__all__ = [
    'instances_per_image', 'instances_per_epoch', 'foreground_weights',
    'check_bank_room'
]


def instances_per_image(dataset) -> List[int]:
    """Ground-truth instances (not ignored) of every index of ``dataset``,
    through mmengine's dataset wrappers; ``ClassBalancedDataset`` repeats
    an image as often as repeat-factor sampling does."""
    if hasattr(dataset, 'full_init'):
        dataset.full_init()  # wrappers build their index lazily
    if isinstance(dataset, ClassBalancedDataset):
        base = instances_per_image(dataset.dataset)
        return [base[i] for i in dataset.repeat_indices]
    if isinstance(dataset, RepeatDataset):
        return instances_per_image(dataset.dataset) * dataset.times
    if isinstance(dataset, ConcatDataset):
        return [n for d in dataset.datasets for n in instances_per_image(d)]
    if not hasattr(dataset, 'get_data_info'):
        raise TypeError(
            f'cannot count the ground-truth instances of a '
            f'{type(dataset).__name__}: set capacity in DSBHook')
    counts = []
    for i in range(len(dataset)):
        instances = dataset.get_data_info(i).get('instances', [])
        counts.append(
            sum(1 for inst in instances if not inst.get('ignore_flag', 0)))
    return counts


def instances_per_epoch(dataset) -> int:
    """Bank entries one epoch of a detection dataset produces: its
    ground-truth instances, counted after repeat-factor sampling."""
    return sum(instances_per_image(dataset))


def foreground_weights(label_weights: Tensor, labels: Tensor,
                       class_weights: Tensor, num_classes: int) -> Tensor:
    """``label_weights`` with each foreground entry multiplied by the DSB
    weight of its class; background (label ``num_classes``) keeps its
    weight."""
    fg = (labels >= 0) & (labels < num_classes)
    scale = torch.ones_like(label_weights)
    scale[fg] = class_weights.to(scale)[labels[fg]]
    return label_weights * scale


def check_bank_room(weighter, num_entries: int, head: str) -> None:
    """A bank smaller than one iteration's instances would drop samples
    before they were ever counted."""
    if weighter.per_sample:
        return  # a repeated instance overwrites its own slot
    capacity = weighter.bank.capacity
    if num_entries > capacity:
        raise ValueError(
            f'{head} produced {num_entries} ground-truth instances in one '
            f'iteration but the DSB feature bank holds only {capacity}: '
            'raise capacity in DSBHook (default: the instances of one epoch)')
