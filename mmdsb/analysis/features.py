"""Pre-logit features and predictions of a trained classifier.

The feature volume of the DSB paper is measured on the classifier's input,
the output of the head's ``pre_logits`` (the vectors the DSB feature bank
stores during training). They are captured while
:class:`~mmdsb.analysis.runner_model.RunnerModel` runs ``test_step``, so
they are the pre-logits of the very forward pass whose predictions
``tools/test.py`` evaluates. This module holds everything that is specific
to classification: the head's ``pre_logits`` and the single-label
``gt_label`` / ``pred_label`` of mmpretrain's ``DataSample``.
"""
from contextlib import contextmanager
from typing import List

import torch
from torch import Tensor

from .data import AnalysisError
from .progress import progress_bar
from .runner_model import RunnerModel


@contextmanager
def captured_pre_logits(model):
    """Collect every output of ``model.head.pre_logits`` inside the block
    into the yielded list."""
    head = getattr(model, 'head', None)
    if head is None or not callable(getattr(head, 'pre_logits', None)):
        raise AnalysisError(
            f'{type(model).__name__} is not a classifier whose head has '
            'pre_logits; the feature volume needs the classifier input')
    captured: List[Tensor] = []
    original = head.pre_logits

    def capture(*args, **kwargs):
        out = original(*args, **kwargs)
        captured.append(out)
        return out

    # An instance attribute shadows the method for this head only.
    head.pre_logits = capture
    try:
        yield captured
    finally:
        del head.pre_logits


def _single_label(sample, key: str) -> int:
    label = sample.get(key)
    if label is None:
        raise AnalysisError(
            f'a sample has no {key}; per-class volumes and accuracy need '
            'single-label ground truth and predictions')
    label = torch.as_tensor(label).reshape(-1)
    if label.numel() != 1:
        raise AnalysisError(
            f'a sample has {label.numel()} values in {key}; the analysis '
            'supports single-label classification only')
    return int(label[0])


class SplitFeatures:
    """What a checkpoint's test run gives on one split: the ``dataset``,
    ``(N, d)`` float32 pre-logit ``feats``, ``(N,)`` ``labels`` and
    predicted labels ``preds`` on the CPU, in dataset order, and the
    ``metrics`` of the split's evaluator with its description
    ``evaluator`` (both ``None`` when not evaluated)."""

    def __init__(self, dataset, feats, labels, preds, metrics=None,
                 evaluator=None):
        self.dataset, self.feats = dataset, feats
        self.labels, self.preds = labels, preds
        self.metrics, self.evaluator = metrics, evaluator


def describe_evaluator(evaluator, split: str) -> str:
    names = ', '.join(f'{type(m).__module__.split(".")[0]}\'s '
                      f'{type(m).__name__}' for m in evaluator.metrics)
    return (f'{names} of the config\'s {split}_evaluator on the {split} '
            'split')


def split_features(model: RunnerModel,
                   split: str,
                   workers: int = 0,
                   evaluate: bool = False,
                   progress: bool = True) -> SplitFeatures:
    """Run the checkpoint over ``split`` and keep the pre-logits, labels
    and predictions of every sample; with ``evaluate`` also run the
    config's evaluator of that split (``val`` or ``test``) on the same
    outputs, as ``tools/test.py`` does (the training split has no
    evaluator: its ``metrics`` stay ``None``)."""
    loader = model.dataloader(split, workers)
    evaluator = model.evaluator(split) if evaluate else None
    feats, labels, preds = [], [], []
    bar = progress_bar(len(loader.dataset), f'{split} images') \
        if progress else None
    with captured_pre_logits(model.model) as captured:

        def on_batch(data_batch, outputs):
            if len(captured) != 1 or len(captured[0]) != len(outputs):
                raise AnalysisError(
                    f'{type(model.model.head).__name__}.pre_logits ran '
                    f'{len(captured)} time(s) for a batch of '
                    f'{len(outputs)} samples; the features need one run '
                    'giving one vector per sample')
            pre = captured.pop()
            feats.append(pre.flatten(1).float().cpu())
            labels.extend(_single_label(s, 'gt_label') for s in outputs)
            preds.extend(_single_label(s, 'pred_label') for s in outputs)

        metrics = model.run(loader, on_batch, evaluator, bar)
    if bar:
        bar.finish()
    return SplitFeatures(
        loader.dataset, torch.cat(feats), torch.tensor(labels).long(),
        torch.tensor(preds).long(), metrics,
        describe_evaluator(evaluator, split) if evaluator else None)
