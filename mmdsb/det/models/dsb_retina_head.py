"""DSB form of mmdet's ``RetinaHead`` (one-stage, sigmoid focal loss).
Like the box heads, mmdsb's extension of DSB to detection, which the paper
leaves to future work (App. L.3); see :mod:`.instance_features`."""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from ...engine.consumer import DSBConsumer
from .instance_features import anchor_instance_features
from .instance_keys import InstanceKeys
from .instances import (check_bank_room, foreground_weights,
                        instances_per_epoch)

__all__ = ['DSBRetinaHead']


@MODELS.register_module()
class DSBRetinaHead(DSBConsumer, RetinaHead):
    """``RetinaHead`` with Dynamic Semantic-Scale-Balanced loss weights.

    While training, a forward pre-hook on ``retina_cls`` keeps the
    classification tower's output of every level. The loss assigns the
    anchors once, as mmdet does, and from that assignment each ground-truth
    instance with positive anchors gives one bank entry, the mean tower
    feature at its positive anchors; in the re-weighting stage the focal
    loss of every positive anchor is multiplied by ``a_y`` (negative
    anchors keep weight 1, ``avg_factor`` is unchanged). Outside that stage
    the loss is exactly mmdet's. Same arguments and state-dict keys as
    ``RetinaHead``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tower_outputs: List[Tensor] = []
        self.retina_cls.register_forward_pre_hook(self._keep_tower_output)

    def _keep_tower_output(self, module: nn.Module, args: tuple) -> None:
        if self.training:
            self._tower_outputs.append(args[0])

    def dsb_samples_per_epoch(self, dataset) -> int:
        return instances_per_epoch(dataset)

    def dsb_sample_keys(self, dataset) -> InstanceKeys:
        return InstanceKeys(dataset)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor]]:
        self._tower_outputs = []
        return super().forward(x)

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """mmdet's ``AnchorHead.loss_by_feat`` with the DSB bank update
        and, in the re-weighting stage, ``a_y`` on the label weights of the
        positive anchors."""
        name = type(self).__name__
        tower_outputs, self._tower_outputs = self._tower_outputs, []
        if len(tower_outputs) != len(cls_scores):
            raise RuntimeError(
                f'{name} observed {len(tower_outputs)} levels of '
                f'classification features for {len(cls_scores)} levels of '
                'scores; the forward pass must run in training mode right '
                'before the loss')
        weighter = self.dsb_checked_weighter(self.num_classes)

        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=cls_scores[0].device)
        (labels_list, label_weights_list, bbox_targets_list,
         bbox_weights_list, avg_factor,
         sampling_results) = self.get_targets(
             anchor_list,
             valid_flag_list,
             batch_gt_instances,
             batch_img_metas,
             batch_gt_instances_ignore=batch_gt_instances_ignore,
             return_sampling_results=True)

        feats, labels, images, instances = self._bank_entries(
            [f.detach() for f in tower_outputs], anchor_list,
            valid_flag_list, sampling_results, batch_gt_instances,
            batch_img_metas)
        check_bank_room(weighter, feats.shape[0], name)
        class_weights = weighter.observe(feats, labels, images, instances)
        if class_weights is not None:
            label_weights_list = [
                foreground_weights(weights, level_labels, class_weights,
                                   self.num_classes)
                for level_labels, weights in zip(labels_list,
                                                 label_weights_list)
            ]

        # From here on as in mmdet's AnchorHead.loss_by_feat.
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        all_anchor_list = images_to_levels(
            [cat_boxes(anchors) for anchors in anchor_list],
            num_level_anchors)
        losses_cls, losses_bbox = multi_apply(
            self.loss_by_feat_single,
            cls_scores,
            bbox_preds,
            all_anchor_list,
            labels_list,
            label_weights_list,
            bbox_targets_list,
            bbox_weights_list,
            avg_factor=avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox)

    def _bank_entries(self, tower_outputs: List[Tensor],
                      anchor_list: List[List[Tensor]],
                      valid_flag_list: List[List[Tensor]],
                      sampling_results: List[SamplingResult],
                      batch_gt_instances: InstanceList,
                      batch_img_metas: List[dict]
                      ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """One ``(feature, label, image, instance)`` per ground-truth
        instance with positive anchors in ``sampling_results``; the
        instance is its index in the image's ``gt_instances``."""
        feats, labels, images, instances = [], [], [], []
        for img, (res, gt, meta) in enumerate(
                zip(sampling_results, batch_gt_instances, batch_img_metas)):
            # The sampling result indexes the anchors inside the image, the
            # only ones mmdet's _get_targets_single assigns.
            inside = anchor_inside_flags(
                cat_boxes(anchor_list[img]), torch.cat(valid_flag_list[img]),
                meta['img_shape'][:2], self.train_cfg['allowed_border'])
            anchor_ids = inside.nonzero().squeeze(1)[res.pos_inds]
            means, found = anchor_instance_features(
                [level[img] for level in tower_outputs], anchor_ids,
                res.pos_assigned_gt_inds, self.num_base_priors, len(gt))
            feats.append(means[found])
            labels.append(gt.labels.to(found.device)[found])
            images.append(torch.full_like(labels[-1], img))
            instances.append(found.nonzero().flatten())
        return (torch.cat(feats), torch.cat(labels), torch.cat(images),
                torch.cat(instances))
