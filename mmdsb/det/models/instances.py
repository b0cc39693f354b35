"""Ground-truth instances as DSB samples (SPEC 8): how many one epoch
yields, one feature per instance, and foreground weights ``a_y``."""
from typing import List

import torch
from mmengine.dataset import (ClassBalancedDataset, ConcatDataset,
                              RepeatDataset)
from torch import Tensor

__all__ = [
    'instances_per_image', 'instances_per_epoch', 'mean_per_instance',
    'foreground_weights', 'checked_weighter', 'check_bank_room'
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


def mean_per_instance(feats: Tensor, gt_inds: Tensor, gt_labels: Tensor):
    """Average the rows of ``feats`` that belong to the same instance.

    Returns ``(instance_feats, labels, inverse)``: one row per distinct
    value of ``gt_inds`` (sorted), its label, and for each input row the
    index of its instance.
    """
    uniq, inverse = torch.unique(gt_inds, return_inverse=True)
    n = uniq.numel()
    sums = feats.new_zeros(n, feats.shape[1]).index_add_(0, inverse, feats)
    counts = torch.bincount(inverse, minlength=n).clamp_min(1)
    labels = gt_labels.new_zeros(n).scatter_(0, inverse, gt_labels)
    return sums / counts[:, None].to(feats.dtype), labels, inverse


def foreground_weights(label_weights: Tensor, labels: Tensor,
                       class_weights: Tensor, num_classes: int) -> Tensor:
    """``label_weights`` with each foreground entry multiplied by the DSB
    weight of its class; background (label ``num_classes``) keeps its
    weight."""
    fg = (labels >= 0) & (labels < num_classes)
    scale = torch.ones_like(label_weights)
    scale[fg] = class_weights.to(scale)[labels[fg]]
    return label_weights * scale


def checked_weighter(head):
    """The weighter DSBHook attached to ``head``, checked against it."""
    name = type(head).__name__
    weighter = head.dsb_weighter
    if weighter is None:
        raise RuntimeError(
            f'{name} needs the DSB feature bank: add '
            "dict(type='DSBHook') to custom_hooks of the config")
    if weighter.num_classes != head.num_classes:
        raise ValueError(
            f'{name} has num_classes={head.num_classes} but its DSB '
            f'feature bank has {weighter.num_classes}')
    return weighter


def check_bank_room(weighter, num_entries: int, head: str) -> None:
    """A bank smaller than one iteration's instances would drop samples
    before they were ever counted."""
    capacity = weighter.bank.capacity
    if num_entries > capacity:
        raise ValueError(
            f'{head} produced {num_entries} ground-truth instances in one '
            f'iteration but the DSB feature bank holds only {capacity}: '
            'raise capacity in DSBHook (default: the instances of one epoch)')
