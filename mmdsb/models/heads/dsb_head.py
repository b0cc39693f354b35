"""DSB forms of mmpretrain's classification heads.

A DSB head is the wrapped head with two additions: it hands its pre-logit
features and labels to the :class:`SemanticScaleWeighter` that
:class:`DSBHook` attaches to it, and, once the weighter returns class
weights, it passes the per-sample weight ``a_y`` to the wrapped loss. Outside
the re-weighting stage the loss is exactly the wrapped head's loss, and the
parameters (hence checkpoints) are the wrapped head's.
"""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.consumer import DSBConsumer

__all__ = [
    'DSBHeadMixin', 'make_dsb_head', 'sample_weights', 'check_sample_labels'
]


def check_sample_labels(labels: Tensor, num_classes: int,
                        data_samples: List[DataSample]) -> None:
    """Raise an error naming the samples (their image paths where the data
    samples carry them) whose labels are not class indices of the head."""
    bad = ((labels < 0) | (labels >= num_classes)).nonzero().flatten()
    if not bad.numel():
        return
    shown = [
        f"{data_samples[i].get('img_path', f'sample {i} of the batch')} "
        f'(label {int(labels[i])})' for i in bad[:5].tolist()
    ]
    more = f' and {bad.numel() - 5} more' if bad.numel() > 5 else ''
    raise ValueError(
        f'labels must be class indices in [0, {num_classes}) of the head, '
        f"got: {', '.join(shown)}{more}; check the annotation file and the "
        "head's num_classes")


def sample_weights(class_weights: Tensor, target: Tensor) -> Tensor:
    """Per-sample weights from class weights: ``a_y`` for hard labels, the
    target-weighted mean of ``a`` for soft (Mixup/CutMix) targets."""
    if target.dim() == 1:
        return class_weights[target]
    target = target.to(class_weights.dtype)
    return (target @ class_weights) / target.sum(dim=1).clamp_min(1e-12)


class DSBHeadMixin(DSBConsumer):
    """Adds DSB re-weighting to a :class:`ClsHead` subclass.

    The head must compute its logits from ``self.pre_logits`` and use
    ``ClsHead.loss``/``ClsHead._get_loss``, as mmpretrain's linear, stacked
    linear and vision-transformer heads do.
    """

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        pre = super().pre_logits(feats)
        if self.training:
            self._dsb_pre_logits = pre
        return pre

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        if self.dsb_weighter is None:
            raise RuntimeError(
                f'{type(self).__name__} needs the DSB feature bank: add '
                "dict(type='DSBHook') to custom_hooks of the config")
        self._dsb_pre_logits = None
        cls_score = self(feats)
        pre = self._dsb_pre_logits
        self._dsb_pre_logits = None
        if pre is None:
            raise RuntimeError(
                f'{type(self).__name__}.forward did not call pre_logits; '
                'DSB cannot capture the classifier input of this head')
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
            labels = target.argmax(dim=1)
        else:
            target = labels = torch.cat([s.gt_label for s in data_samples])
        num_classes = cls_score.shape[1]
        if self.dsb_weighter.num_classes != num_classes:
            raise ValueError(
                f'the head predicts {num_classes} classes but the DSB '
                f'feature bank has {self.dsb_weighter.num_classes}')
        check_sample_labels(labels, num_classes, data_samples)
        class_weights = self.dsb_weighter.observe(
            pre, labels, batch_ids=torch.arange(len(labels)))
        if class_weights is not None:
            # float32 whatever the autocast dtype: bf16 would quantise the
            # weights to steps of 2^-9, and the weighted loss with them.
            kwargs['weight'] = sample_weights(
                class_weights.to(cls_score.device, torch.float32),
                target.to(cls_score.device))
        return self._get_loss(cls_score, data_samples, **kwargs)


def make_dsb_head(head_cls: type, name: Optional[str] = None) -> type:
    """Create and register ``DSB<Name>``, the DSB form of a ClsHead class."""
    if not (isinstance(head_cls, type) and issubclass(head_cls, ClsHead)):
        raise TypeError(f'{head_cls} is not a subclass of ClsHead')
    name = name or f'DSB{head_cls.__name__}'
    cls = type(name, (DSBHeadMixin, head_cls), {
        '__doc__':
        f'{head_cls.__name__} with Dynamic Semantic-Scale-Balanced loss '
        'weights (see :class:`DSBHeadMixin`). Takes the same arguments.',
        '__module__': __name__,
    })
    MODELS.register_module(name=name, module=cls)
    return cls


# mmpretrain cannot train DeiT's distilled head (two pre-logit tokens).
_NOT_TRAINABLE = ('DeiTClsHead', )


def _wrappable(name: str, head_cls: type) -> bool:
    """Heads whose logits come from ``pre_logits`` and whose loss is
    ClsHead's (others redefine the loss, e.g. ArcFace or Conformer)."""
    return (isinstance(head_cls, type) and issubclass(head_cls, ClsHead)
            and head_cls is not ClsHead and name not in _NOT_TRAINABLE
            and head_cls.loss is ClsHead.loss
            and head_cls._get_loss is ClsHead._get_loss)


# The DSB twin of every suitable head that mmpretrain registers.
for _name, _cls in sorted(MODELS.module_dict.items()):
    if _wrappable(_name, _cls) and f'DSB{_name}' not in MODELS.module_dict:
        globals()[f'DSB{_name}'] = make_dsb_head(_cls)
        __all__.append(f'DSB{_name}')
