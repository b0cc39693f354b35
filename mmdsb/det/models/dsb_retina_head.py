"""DSB form of mmdet's ``RetinaHead`` (one-stage, sigmoid focal loss)."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from ...engine.consumer import DSBConsumer
from .instances import (check_bank_room, checked_weighter,
                        foreground_weights, instances_per_epoch,
                        mean_per_instance)

__all__ = ['DSBRetinaHead', 'anchor_instance_features']


def anchor_instance_features(level_feats: List[Tensor],
                             level_gt_inds: List[Tensor],
                             batch_gt_instances: InstanceList,
                             num_base_priors: int
                             ) -> Tuple[Tensor, Tensor, Tensor]:
    """One ``(feature, label, image)`` per ground-truth instance with positive
    anchors: the mean classification-tower feature at the locations of its
    positive anchors, over all levels.

    ``level_feats[l]`` is ``(N, C, H, W)``; ``level_gt_inds[l]`` is
    ``(N, H * W * A)``, the index of each anchor's assigned ground truth
    or -1, in mmdet's anchor order (location-major, ``A`` anchors per
    location).
    """
    feats, labels, images = [], [], []
    for img, gt_instances in enumerate(batch_gt_instances):
        rows, inds = [], []
        for feat, gt_inds in zip(level_feats, level_gt_inds):
            pos = (gt_inds[img] >= 0).nonzero().squeeze(1)
            locations = feat[img].flatten(1)[:, pos // num_base_priors]
            rows.append(locations.t())
            inds.append(gt_inds[img][pos])
        inds = torch.cat(inds)
        if inds.numel() == 0:
            continue
        gt_labels = gt_instances.labels.to(inds.device)[inds]
        inst, inst_labels, _ = mean_per_instance(
            torch.cat(rows), inds, gt_labels)
        feats.append(inst)
        labels.append(inst_labels)
        images.append(torch.full_like(inst_labels, img))
    if not feats:
        dim = level_feats[0].shape[1]
        none = torch.zeros(0, dtype=torch.long, device=level_feats[0].device)
        return level_feats[0].new_zeros(0, dim), none, none
    return torch.cat(feats), torch.cat(labels), torch.cat(images)


@MODELS.register_module()
class DSBRetinaHead(DSBConsumer, RetinaHead):
    """``RetinaHead`` with Dynamic Semantic-Scale-Balanced loss weights.

    While training, a forward pre-hook on ``retina_cls`` keeps the
    classification tower's output of every level. In the loss, each
    ground-truth instance with positive anchors gives one bank entry, the
    mean tower feature at its positive anchors; in the re-weighting stage
    the focal loss of every positive anchor is multiplied by ``a_y``
    (negative anchors keep weight 1, ``avg_factor`` is unchanged). Outside
    that stage the loss is exactly mmdet's. Same arguments and state-dict
    keys as ``RetinaHead``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._dsb_cls_feats: List[Tensor] = []
        # Set only while loss_by_feat computes the targets.
        self._dsb_level_feats: Optional[List[Tensor]] = None
        self.retina_cls.register_forward_pre_hook(self._keep_tower_output)

    def _keep_tower_output(self, module: nn.Module, args: tuple) -> None:
        if self.training:
            self._dsb_cls_feats.append(args[0])

    def dsb_samples_per_epoch(self, dataset) -> int:
        return instances_per_epoch(dataset)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor]]:
        self._dsb_cls_feats = []
        return super().forward(x)

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        feats, self._dsb_cls_feats = self._dsb_cls_feats, []
        if len(feats) != len(cls_scores):
            raise RuntimeError(
                f'{type(self).__name__} observed {len(feats)} levels of '
                f'classification features for {len(cls_scores)} levels of '
                'scores; the forward pass must run in training mode right '
                'before the loss')
        self._dsb_level_feats = [f.detach() for f in feats]
        try:
            return super().loss_by_feat(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        finally:
            self._dsb_level_feats = None

    def _get_targets_single(self, flat_anchors, valid_flags, gt_instances,
                            img_meta, gt_instances_ignore=None,
                            unmap_outputs=True) -> tuple:
        """mmdet's targets plus, for every anchor, the index of its
        assigned ground truth (-1 if not positive)."""
        results = super()._get_targets_single(flat_anchors, valid_flags,
                                              gt_instances, img_meta,
                                              gt_instances_ignore,
                                              unmap_outputs)
        if self._dsb_level_feats is None:
            return results
        if not unmap_outputs:
            raise ValueError(f'{type(self).__name__} needs the targets of '
                             'all anchors (unmap_outputs=True)')
        sampling_result = results[6]
        inside = anchor_inside_flags(flat_anchors, valid_flags,
                                     img_meta['img_shape'][:2],
                                     self.train_cfg['allowed_border'])
        gt_inds = torch.full((flat_anchors.shape[0], ), -1,
                             dtype=torch.long, device=flat_anchors.device)
        inside_inds = inside.nonzero().squeeze(1)
        gt_inds[inside_inds[sampling_result.pos_inds]] = \
            sampling_result.pos_assigned_gt_inds
        return results + (gt_inds, )

    def get_targets(self, anchor_list, valid_flag_list, batch_gt_instances,
                    batch_img_metas, batch_gt_instances_ignore=None,
                    unmap_outputs=True,
                    return_sampling_results=False) -> tuple:
        """mmdet's targets; inside the loss, the bank is fed and, in the
        re-weighting stage, positive anchors get ``a_y`` as label
        weight."""
        results = super().get_targets(anchor_list, valid_flag_list,
                                      batch_gt_instances, batch_img_metas,
                                      batch_gt_instances_ignore,
                                      unmap_outputs, return_sampling_results)
        if self._dsb_level_feats is None:
            return results
        weighter = checked_weighter(self)
        *results, level_gt_inds = results
        feats, labels, images = anchor_instance_features(
            self._dsb_level_feats, level_gt_inds, batch_gt_instances,
            self.num_base_priors)
        check_bank_room(weighter, feats.shape[0], type(self).__name__)
        class_weights = weighter.observe(feats, labels, images)
        if class_weights is not None:
            results[1] = [
                foreground_weights(weights, level_labels, class_weights,
                                   self.num_classes)
                for level_labels, weights in zip(results[0], results[1])
            ]
        return tuple(results)
