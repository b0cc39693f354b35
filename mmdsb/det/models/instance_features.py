"""One feature per ground-truth instance, the DSB sample of detection:
what the DSB heads put into their banks and what the analysis tools
measure, computed here for both so that the two agree.

The paper defines DSB for classification only. Its App. L.3 names
detection as future work and the obstacle: instances, unlike images, have
no fixed dimension. mmdsb takes every instance's feature from the fixed-width
input of the detector's classifier, so all instances of a class lie
in one space, and counts each object once, not once per RoI or anchor.

* Box heads: the classifier input of the instance's own ground-truth RoI
  where the sampler added it, else the mean over its positive RoIs.
* Anchor heads: the mean classification-tower output at the locations of
  the instance's positive anchors.
"""
from typing import List, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from torch import Tensor

__all__ = [
    'mean_per_instance', 'roi_instance_features', 'anchor_instance_features'
]


def mean_per_instance(feats: Tensor, gt_inds: Tensor,
                      num_instances: int) -> Tuple[Tensor, Tensor]:
    """Mean of the rows of ``feats`` of each instance.

    ``gt_inds[i]`` is the instance (``0 .. num_instances - 1``) of row
    ``i``. Returns the ``(num_instances, C)`` means, zero for an instance
    without rows, and the mask of the instances that have rows.
    """
    sums = feats.new_zeros(num_instances,
                           feats.shape[1]).index_add_(0, gt_inds, feats)
    counts = torch.bincount(gt_inds, minlength=num_instances)
    return sums / counts.clamp_min(1)[:, None].to(sums), counts > 0


def roi_instance_features(
        x_cls: Tensor, sampling_results: List[SamplingResult]
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """One ``(feature, label, image, instance)`` per ground-truth instance
    with sampled positive RoIs; the instance is its index among the
    image's ground truths.

    ``x_cls`` holds the classifier input of every sampled RoI, image by
    image, positives first (the order of ``bbox2roi`` over the sampling
    results' ``priors``). The image is the instance's position in the
    batch. The own box is the one view of the object that does not depend
    on the proposals; its positive RoIs are near-duplicates of it.
    """
    feats, labels, images, instances, start = [], [], [], [], 0
    for img, res in enumerate(sampling_results):
        num_pos = res.pos_inds.numel()
        pos = x_cls[start:start + num_pos]
        start += res.priors.shape[0]
        if num_pos == 0:
            continue
        gt_inds = res.pos_assigned_gt_inds
        means, found = mean_per_instance(pos, gt_inds, res.num_gts)
        # The sampler assigns each added ground-truth box to itself.
        own = res.pos_is_gt.bool()
        means[gt_inds[own]] = pos[own]
        gt_labels = res.pos_gt_labels.new_zeros(res.num_gts).scatter_(
            0, gt_inds, res.pos_gt_labels)
        feats.append(means[found])
        labels.append(gt_labels[found])
        images.append(torch.full_like(labels[-1], img))
        instances.append(found.nonzero().flatten())
    if start != x_cls.shape[0]:
        raise RuntimeError(
            f'the box head saw {x_cls.shape[0]} RoIs but the sampling '
            f'results hold {start}')
    if not feats:
        none = x_cls.new_zeros(0, dtype=torch.long)
        return x_cls.new_zeros(0, x_cls.shape[1]), none, none, none
    return (torch.cat(feats), torch.cat(labels), torch.cat(images),
            torch.cat(instances))


def anchor_instance_features(level_feats: List[Tensor], anchor_ids: Tensor,
                             gt_inds: Tensor, num_base_priors: int,
                             num_instances: int) -> Tuple[Tensor, Tensor]:
    """Mean tower feature of each instance of one image over its positive
    anchors.

    ``level_feats[l]`` is the ``(C, H_l, W_l)`` classification-tower output
    of level ``l``; ``anchor_ids`` index the positive anchors in mmdet's
    flat anchor order of the image (level by level, location-major,
    ``num_base_priors`` anchors per location) and ``gt_inds`` are their
    instances. Returns what :func:`mean_per_instance` returns.
    """
    # Each level holds whole locations, so an anchor's location among the
    # concatenated levels is its index divided by the anchors per location.
    locations = torch.cat([f.flatten(1) for f in level_feats], dim=1)
    rows = locations[:, anchor_ids // num_base_priors].t()
    return mean_per_instance(rows, gt_inds, num_instances)
