"""DSB forms of mmdet's ``ConvFCBBoxHead`` family (mmdsb's extension of
DSB to detection, which the paper leaves to future work in App. L.3; the
sample is a ground-truth instance, see :mod:`.instance_features`).

A DSB box head is the wrapped head with two additions, so its arguments,
parameters and state-dict keys are the wrapped head's:

* While training, a forward pre-hook on ``fc_cls`` keeps the classifier's
  input ``x_cls``; mmdet's ``forward`` is not repeated.
* ``loss_and_target`` forms one bank entry per ground-truth instance with
  sampled positive RoIs and feeds the :class:`SemanticScaleWeighter` that
  :class:`DSBHook` attaches. The entry is the feature of the instance's own
  ground-truth box, which the R-CNN sampler adds to the proposals
  (``pos_is_gt``), when that RoI was sampled, else the mean feature of its
  positive RoIs (:func:`~.instance_features.roi_instance_features`). In
  the re-weighting stage the ``label_weights`` of every foreground
  RoI are multiplied by ``a_y``; background RoIs keep weight 1 and the
  loss's ``avg_factor`` (the number of RoIs with a positive weight) is
  unchanged. Outside that stage the loss is exactly mmdet's.

Each box head is its own consumer, so every stage of a Cascade R-CNN keeps
its own bank.
"""
from typing import List, Optional

import torch.nn as nn
from mmdet.models.roi_heads.bbox_heads import (ConvFCBBoxHead,
                                               Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from torch import Tensor

from ...engine.consumer import DSBConsumer
from .instance_features import roi_instance_features
from .instance_keys import InstanceKeys
from .instances import (check_bank_room, foreground_weights,
                        instances_per_epoch)

__all__ = [
    'DSBBBoxHeadMixin', 'DSBConvFCBBoxHead', 'DSBShared2FCBBoxHead',
    'DSBShared4Conv1FCBBoxHead'
]


class DSBBBoxHeadMixin(DSBConsumer):
    """Adds DSB re-weighting to a ``BBoxHead`` subclass whose classifier is
    a linear ``fc_cls`` (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fc_cls = getattr(self, 'fc_cls', None) if self.with_cls else None
        if not isinstance(fc_cls, nn.Linear):
            raise TypeError(
                f'{type(self).__name__} needs a linear classifier fc_cls '
                'whose input DSB can observe, got '
                f'{type(fc_cls).__name__} (with_cls={self.with_cls}, '
                f'cls_predictor_cfg={self.cls_predictor_cfg})')
        self._dsb_x_cls: Optional[Tensor] = None
        fc_cls.register_forward_pre_hook(self._keep_classifier_input)

    def _keep_classifier_input(self, module: nn.Module, args: tuple) -> None:
        if self.training:
            self._dsb_x_cls = args[0]

    def dsb_samples_per_epoch(self, dataset) -> int:
        return instances_per_epoch(dataset)

    def dsb_sample_keys(self, dataset) -> InstanceKeys:
        return InstanceKeys(dataset)

    def loss_and_target(self,
                        cls_score: Tensor,
                        bbox_pred: Tensor,
                        rois: Tensor,
                        sampling_results: List[SamplingResult],
                        rcnn_train_cfg: ConfigDict,
                        concat: bool = True,
                        reduction_override: Optional[str] = None) -> dict:
        """mmdet's ``loss_and_target`` with the DSB bank update and, in the
        re-weighting stage, ``a_y`` on the foreground ``label_weights``.
        The returned targets are mmdet's (unweighted)."""
        name = type(self).__name__
        weighter = self.dsb_checked_weighter(self.num_classes)
        if not concat:
            raise ValueError(f'{name} computes its loss on concatenated '
                             'targets (concat=True)')
        x_cls, self._dsb_x_cls = self._dsb_x_cls, None
        if x_cls is None or x_cls.shape[0] != cls_score.shape[0]:
            raise RuntimeError(
                f'{name} did not observe the input of fc_cls for the '
                f'{cls_score.shape[0]} RoIs of this loss; the forward pass '
                'must run fc_cls in training mode right before the loss')
        feats, labels, images, instances = roi_instance_features(
            x_cls.detach(), sampling_results)
        check_bank_room(weighter, feats.shape[0], name)
        class_weights = weighter.observe(feats, labels, images, instances)

        targets = self.get_targets(sampling_results, rcnn_train_cfg)
        roi_labels, label_weights, bbox_targets, bbox_weights = targets
        if class_weights is not None:
            label_weights = foreground_weights(label_weights, roi_labels,
                                               class_weights,
                                               self.num_classes)
        losses = self.loss(
            cls_score,
            bbox_pred,
            rois,
            roi_labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            reduction_override=reduction_override)
        return dict(loss_bbox=losses, bbox_targets=targets)


@MODELS.register_module()
class DSBConvFCBBoxHead(DSBBBoxHeadMixin, ConvFCBBoxHead):
    """mmdet's ``ConvFCBBoxHead`` with Dynamic Semantic-Scale-Balanced loss
    weights (see :class:`DSBBBoxHeadMixin`). Same arguments and state-dict
    keys."""


@MODELS.register_module()
class DSBShared2FCBBoxHead(DSBBBoxHeadMixin, Shared2FCBBoxHead):
    """mmdet's ``Shared2FCBBoxHead`` (Faster/Cascade R-CNN) with Dynamic
    Semantic-Scale-Balanced loss weights (see :class:`DSBBBoxHeadMixin`).
    Same arguments and state-dict keys."""


@MODELS.register_module()
class DSBShared4Conv1FCBBoxHead(DSBBBoxHeadMixin, Shared4Conv1FCBBoxHead):
    """mmdet's ``Shared4Conv1FCBBoxHead`` with Dynamic
    Semantic-Scale-Balanced loss weights (see :class:`DSBBBoxHeadMixin`).
    Same arguments and state-dict keys."""
