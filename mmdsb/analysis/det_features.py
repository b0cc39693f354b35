"""Instance features and AP of a trained mmdet detector.

The detection counterpart of :mod:`mmdsb.analysis.features`: one feature
per ground-truth instance, taken while
:class:`~mmdsb.analysis.runner_model.RunnerModel` runs ``test_step`` on
every batch (the test pipeline must load the annotations), and the metrics
of the config's evaluator on the same outputs.

* Two-stage detectors (``StandardRoIHead``, e.g. Faster and Mask R-CNN;
  ``CascadeRoIHead``, last stage): the classifier input ``x_cls`` of the box
  head (the input of ``fc_cls``, what the DSB box heads store in their
  bank) for the RoI of the ground-truth box itself, pooled from the feature
  maps of the test forward pass.
* RetinaNet-style heads (a ``retina_cls`` after a classification tower):
  the mean tower output over the instance's positive anchors, assigned by
  the head's own training assigner, computed by the function that feeds
  the DSB RetinaHead's bank
  (:func:`mmdsb.det.models.instance_features.anchor_instance_features`).
  An instance without positive anchors has no feature; it is counted and
  left out.

``LVISMetric`` and ``CocoMetric`` are run with ``classwise=True`` unless
the config sets it: this adds per-class AP (``<class>_precision``) and
leaves every other metric unchanged.
"""
import copy
import sys
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.runner.amp import autocast
from torch import Tensor

from .data import AnalysisError
from .features import describe_evaluator
from .progress import progress_bar
from .runner_model import RunnerModel

CLASSWISE_METRICS = ('LVISMetric', 'CocoMetric')


def is_detector(model: nn.Module) -> bool:
    """Whether ``model`` is an mmdet detector. Building one imports
    mmdet's detectors, so a classifier never imports mmdet here."""
    detectors = sys.modules.get('mmdet.models.detectors')
    return detectors is not None and isinstance(model,
                                                detectors.BaseDetector)


def _gt_instances(outputs):
    for sample in outputs:
        gt = sample.get('gt_instances')
        if gt is None or 'bboxes' not in gt or 'labels' not in gt:
            raise AnalysisError(
                'the test pipeline gives no ground-truth boxes; instance '
                'features need dict(type=\'LoadAnnotations\', with_bbox=True)'
                ' in it')
    return [s.gt_instances for s in outputs]


class _RoIFeatures:
    """``x_cls`` of the ground-truth boxes' RoIs in a two-stage detector."""

    def __init__(self, detector):
        from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
        self.detector = detector
        roi_head = detector.roi_head
        if isinstance(roi_head, CascadeRoIHead):
            self.stage = roi_head.num_stages - 1
            self.box_head = roi_head.bbox_head[self.stage]
        elif isinstance(roi_head, StandardRoIHead):
            self.stage = None
            self.box_head = roi_head.bbox_head
        else:
            raise AnalysisError(
                f'{type(roi_head).__name__} is not supported: instance '
                'features need a StandardRoIHead or CascadeRoIHead')
        self.fc_cls = getattr(self.box_head, 'fc_cls', None)
        if not isinstance(self.fc_cls, nn.Module):
            raise AnalysisError(
                f'the box head {type(self.box_head).__name__} has no fc_cls '
                'classifier whose input could be measured')
        self.description = (
            f'input of {type(self.box_head).__name__}.fc_cls for the RoI '
            'of each ground-truth box')
        self._feats = None

    def __enter__(self):
        original = self.detector.extract_feat

        def keep(*args, **kwargs):
            self._feats = original(*args, **kwargs)
            return self._feats

        # An instance attribute shadows the method during the test run.
        self.detector.extract_feat = keep
        return self

    def __exit__(self, *exc):
        del self.detector.extract_feat

    def __call__(self, outputs, fp16: bool):
        from mmdet.structures.bbox import bbox2roi
        gts = _gt_instances(outputs)
        x, self._feats = self._feats, None
        rois = bbox2roi([g.bboxes for g in gts])
        labels = torch.cat([g.labels for g in gts]).long().cpu()
        dim = self.fc_cls.in_features
        if rois.shape[0] == 0:
            return torch.zeros(0, dim), labels
        captured: List[Tensor] = []
        handle = self.fc_cls.register_forward_pre_hook(
            lambda module, args: captured.append(args[0]))
        try:
            with autocast(enabled=fp16):
                if self.stage is None:
                    self.detector.roi_head._bbox_forward(x, rois)
                else:
                    self.detector.roi_head._bbox_forward(self.stage, x, rois)
        finally:
            handle.remove()
        return captured[0].flatten(1).float().cpu(), labels


class _AnchorFeatures:
    """Mean classification-tower output over each instance's positive
    anchors in a RetinaNet-style head."""

    def __init__(self, detector):
        head = getattr(detector, 'bbox_head', None)
        self.head = head
        self.cls = getattr(head, 'retina_cls', None)
        if not isinstance(self.cls, nn.Module):
            raise AnalysisError(
                f'{type(detector).__name__} is not supported: instance '
                'features need a two-stage detector with an fc_cls box head '
                'or a RetinaNet-style head with retina_cls')
        if getattr(head, 'assigner', None) is None:
            raise AnalysisError(
                f'{type(head).__name__} has no assigner (model.train_cfg); '
                'the positive anchors of the instances need it')
        self.description = (
            f'mean input of {type(head).__name__}.retina_cls at the '
            'positive anchors of each ground-truth instance')
        self.missing = 0
        self._levels: List[Tensor] = []

    def __enter__(self):
        self._handle = self.cls.register_forward_pre_hook(
            lambda module, args: self._levels.append(args[0]))
        return self

    def __exit__(self, *exc):
        self._handle.remove()

    def __call__(self, outputs, fp16: bool):
        from mmdet.models.task_modules.prior_generators import \
            anchor_inside_flags
        from mmengine.structures import InstanceData

        from ..det.models.instance_features import anchor_instance_features
        gts = _gt_instances(outputs)
        levels, self._levels = self._levels, []
        head = self.head
        sizes = [f.shape[-2:] for f in levels]
        device = levels[0].device
        anchors = torch.cat(head.prior_generator.grid_priors(sizes,
                                                             device=device))
        border = head.train_cfg.get('allowed_border', -1)
        feats, labels = [], []
        for img, (gt, sample) in enumerate(zip(gts, outputs)):
            valid = torch.cat(head.prior_generator.valid_flags(
                sizes, sample.metainfo['pad_shape'], device=device))
            inside = anchor_inside_flags(anchors, valid,
                                         sample.metainfo['img_shape'][:2],
                                         border)
            index = inside.nonzero().squeeze(1)
            assigned = head.assigner.assign(
                InstanceData(priors=anchors[index]), gt).gt_inds
            pos = assigned > 0
            mean, found = anchor_instance_features(
                [f[img].float() for f in levels], index[pos],
                assigned[pos] - 1, head.num_base_priors, len(gt))
            self.missing += int((~found).sum())
            feats.append(mean[found].cpu())
            labels.append(gt.labels[found].long().cpu())
        return torch.cat(feats), torch.cat(labels)


class DetSplitFeatures:
    """What a detector's test run gives on one split: the ``dataset``,
    ``(N, d)`` float32 instance ``feats`` and their ``labels`` (images in
    dataset order, instances in annotation order), the ``metrics`` of the
    split's evaluator and its description ``evaluator`` (``None`` when not
    evaluated), the ``space`` the features come from and the number of
    instances ``missing`` a feature (no positive anchor)."""

    def __init__(self, dataset, feats, labels, metrics, evaluator, space,
                 missing=0):
        self.dataset, self.feats, self.labels = dataset, feats, labels
        self.metrics, self.evaluator = metrics, evaluator
        self.space, self.missing = space, missing


def detection_evaluator(model: RunnerModel, split: str):
    """The config's ``{split}_evaluator`` with per-class AP switched on for
    LVISMetric and CocoMetric (``None`` for a split without one)."""
    spec = model.cfg.get(f'{split}_evaluator') if split != 'train' \
        else None
    if not spec:
        return None
    spec = copy.deepcopy(spec)
    for metric in spec if isinstance(spec, (list, tuple)) else [spec]:
        name = str(metric.get('type', '')).split('.')[-1]
        if name in CLASSWISE_METRICS:
            metric.setdefault('classwise', True)
    return model.runner.build_evaluator(spec)


def split_instance_features(model: RunnerModel,
                            split: str,
                            workers: int = 0,
                            evaluate: bool = False,
                            progress: bool = True) -> DetSplitFeatures:
    """Run the detector over ``split`` and keep one feature per
    ground-truth instance; with ``evaluate`` also run the split's
    evaluator on the same outputs, as ``tools/test.py`` does."""
    detector = model.model
    capture = _RoIFeatures(detector) if hasattr(detector, 'roi_head') \
        else _AnchorFeatures(detector)
    loader = model.dataloader(split, workers)
    evaluator = detection_evaluator(model, split) if evaluate else None
    feats, labels = [], []
    bar = progress_bar(len(loader.dataset), f'{split} images') \
        if progress else None

    def on_batch(data_batch, outputs):
        f, lab = capture(outputs, model.fp16)
        feats.append(f)
        labels.append(lab)

    with capture:
        metrics = model.run(loader, on_batch, evaluator, bar)
    if bar:
        bar.finish()
    feats, labels = torch.cat(feats), torch.cat(labels)
    if feats.shape[0] == 0:
        raise AnalysisError(f'no ground-truth instance of the {split} split '
                            'has a feature')
    return DetSplitFeatures(
        loader.dataset, feats, labels, metrics,
        describe_evaluator(evaluator, split) if evaluator else None,
        capture.description, getattr(capture, 'missing', 0))


def per_class_ap(metrics: Optional[dict],
                 names: Sequence[str]) -> Optional[List[Optional[float]]]:
    """Per-class AP from the ``<class>_precision`` entries of mmdet's
    classwise LVISMetric / CocoMetric (``None`` where the class has no
    AP); ``None`` when the metrics hold no per-class AP."""
    if not metrics:
        return None
    found = {}
    for key, value in metrics.items():
        tail = key.rsplit('/', 1)[-1]
        if tail.endswith('_precision'):
            found[tail[:-len('_precision')]] = float(value)
    if not found:
        return None
    out = []
    for name in names:
        ap = found.get(str(name))
        out.append(None if ap is None or ap != ap else ap)
    return out
