"""Pre-logit features and predictions of a trained classifier.

The feature volume of the DSB paper is measured on the classifier's input
(the ``pre_logits`` stage of an mmpretrain ``ImageClassifier``), the same
vectors the DSB feature bank stores during training.
"""
import sys
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import CheckpointLoader
from mmengine.utils import ProgressBar
from torch import Tensor

from .data import AnalysisError, build_dataset, eval_pipeline


def _state_dict(checkpoint) -> dict:
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict):
        raise AnalysisError('the checkpoint holds no state dict')
    # Checkpoints saved from a distributed wrapper carry a "module." prefix.
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in state.items()}


def check_state_dict(model: torch.nn.Module, state: dict,
                     checkpoint: str) -> None:
    """Raise :class:`AnalysisError` naming every parameter whose shape in
    the checkpoint differs from the model built from the config, and every
    parameter the checkpoint lacks."""
    expected = model.state_dict()
    wrong = [
        f'{key}: {tuple(value.shape)} in the checkpoint, '
        f'{tuple(expected[key].shape)} in the config'
        for key, value in state.items()
        if key in expected and tuple(value.shape) != tuple(
            expected[key].shape)
    ]
    if wrong:
        hint = ''
        if any(k.startswith('head.') for k in state if k in expected and
               tuple(state[k].shape) != tuple(expected[k].shape)):
            hint = (' The classifier head differs: was the checkpoint '
                    'trained with another number of classes '
                    '(model.head.num_classes)?')
        raise AnalysisError(
            f'checkpoint {checkpoint} does not match the model of the '
            'config: ' + '; '.join(wrong) + '.' + hint)
    missing = [k for k in expected if k not in state]
    if missing:
        raise AnalysisError(
            f'checkpoint {checkpoint} lacks {len(missing)} parameter(s) of '
            f'the config\'s model, e.g. {", ".join(missing[:5])}')


def build_model(cfg: Config, checkpoint: str, device: str = 'cpu'):
    """The config's model with the checkpoint's weights, in eval mode."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    if not (hasattr(model, 'extract_feat') and getattr(model, 'head', None)):
        raise AnalysisError(
            f'{type(model).__name__} is not a classifier with a head; the '
            'feature volume needs the classifier input (pre-logits)')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = _state_dict(ckpt)
    check_state_dict(model, state, checkpoint)
    unexpected = [k for k in state if k not in model.state_dict()]
    if unexpected:
        print(f'note: the checkpoint has {len(unexpected)} entries the model '
              f'does not use, e.g. {", ".join(unexpected[:3])}',
              file=sys.stderr)
    model.load_state_dict(state, strict=False)
    return model.to(device).eval()


@torch.no_grad()
def extract(model,
            dataset,
            batch_size: int = 32,
            workers: int = 0,
            device: str = 'cpu',
            progress: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """Pre-logit features, labels and predicted labels of every sample.

    Returns:
        ``(N, d)`` float32 features on the CPU, ``(N,)`` ground-truth labels
        and ``(N,)`` predictions (argmax of the logits).
    """
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        shuffle=False,
        collate_fn=pseudo_collate)
    bar = ProgressBar(len(dataset), file=sys.stderr) if progress else None
    feats, labels, preds = [], [], []
    model.to(device)
    for batch in loader:
        if any('gt_label' not in s for s in batch['data_samples']):
            raise AnalysisError(
                'the samples of this split have no labels (gt_label); '
                'per-class volumes need them')
        data = model.data_preprocessor(batch, False)
        neck = model.extract_feat(data['inputs'], stage='neck')
        pre = model.head.pre_logits(neck)
        logits = model.head(neck)
        if pre.dim() != 2:
            pre = pre.flatten(1)
        feats.append(pre.float().cpu())
        preds.append(logits.argmax(dim=1).cpu())
        labels.append(
            torch.cat([s.gt_label.reshape(-1)[:1]
                       for s in data['data_samples']]).cpu())
        if bar:
            bar.update(len(batch['inputs']))
    if bar:
        sys.stderr.write('\n')
    return torch.cat(feats), torch.cat(labels).long(), torch.cat(preds).long()


def split_features(cfg: Config,
                   model,
                   split: str,
                   device: str = 'cpu',
                   workers: int = 0,
                   batch_size: Optional[int] = None,
                   progress: bool = True):
    """Features of a config split, read with the deterministic pipeline.

    Returns ``(dataset, feats, labels, preds)``.
    """
    dataset = build_dataset(cfg, split, pipeline=eval_pipeline(cfg))
    if batch_size is None:
        batch_size = cfg.get(f'{split}_dataloader', {}).get('batch_size', 32)
    feats, labels, preds = extract(model, dataset, batch_size, workers,
                                   device, progress)
    return dataset, feats, labels, preds
