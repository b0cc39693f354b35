"""Linear classifier with IFL's centre loss, and its DSB form.

Invariant Feature Learning (Tang et al., ECCV 2022): the classification
loss plus a centre loss on the classifier input, trained on batches drawn
half from the instance-balanced environment and half from the re-weighted
one (``IFLEnvSampler``, ``IFLHook``).
"""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from .dsb_head import DSBHeadMixin, check_sample_labels

__all__ = ['IFLLinearClsHead', 'DSBIFLLinearClsHead']


@MODELS.register_module()
class IFLLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` whose training loss adds IFL's centre
    loss on its input features::

        losses = {'loss': L_cls(W x + b, y), 'loss_center': L_center(x, y)}

    ``L_cls`` is the head's ``loss`` (cross-entropy, ``BalancedSoftmaxLoss``
    ...), unchanged; ``L_center`` is :class:`~mmdsb.models.IFLCenterLoss`
    with its epoch schedule. mmengine sums both into the total loss.

    While ``record_env_scores`` is set (``IFLHook`` sets it in the epochs
    that end with an environment update), each loss call leaves
    ``env_scores = (sample_idx, p_y)``: the dataset indices of the batch and
    the softmax probability of the true class (of the raw logits, as in the
    released code), from which the hook builds the re-weighted environment.

    Same state-dict keys as ``LinearClsHead`` plus ``center_loss.centers``
    and ``center_loss.num_updates``, so the classifier of a checkpoint
    loads into a plain head (cRT, LWS) and vice versa.

    Args:
        num_classes, in_channels, **kwargs: as for ``LinearClsHead``.
        center_loss: config of the centre loss; ``num_classes`` and
            ``feat_dim`` default to the head's.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 center_loss: Optional[dict] = None,
                 **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        cfg = dict(type='IFLCenterLoss')
        cfg.update(center_loss or {})
        cfg.setdefault('num_classes', num_classes)
        cfg.setdefault('feat_dim', in_channels)
        if cfg['num_classes'] != num_classes or \
                cfg['feat_dim'] != in_channels:
            raise ValueError(
                f'{type(self).__name__}: center_loss has num_classes='
                f"{cfg['num_classes']!r} and feat_dim={cfg['feat_dim']!r} "
                f'but the head has num_classes={num_classes!r} and '
                f'in_channels={in_channels!r}')
        self.center_loss = MODELS.build(cfg)
        self.record_env_scores = False
        self.env_scores: Optional[Tuple[Tensor, Tensor]] = None
        self._ifl_pre_logits: Optional[Tensor] = None

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        pre = super().pre_logits(feats)
        # Kept in every mode, so that the loss always sees the features of
        # the forward it follows (ClsHead.loss calls forward, then
        # _get_loss); evaluation under no_grad keeps no graph alive.
        self._ifl_pre_logits = pre
        return pre

    def _get_loss(self, cls_score: Tensor, data_samples: List[DataSample],
                  **kwargs) -> dict:
        # The classification term, with a DSB head's per-sample weights
        # when it passes them; the centre term takes none (see the docs).
        losses = super()._get_loss(cls_score, data_samples, **kwargs)
        pre, self._ifl_pre_logits = self._ifl_pre_logits, None
        if pre is None or pre.shape[0] != cls_score.shape[0]:
            raise RuntimeError(
                f'{type(self).__name__}: the loss needs the classifier input'
                ' of this batch; compute cls_score with forward()')
        if 'gt_score' in data_samples[0]:
            labels = torch.stack([s.gt_score for s in data_samples]).argmax(1)
        else:
            labels = torch.cat([s.gt_label for s in data_samples])
        labels = labels.to(pre.device)
        check_sample_labels(labels, self.num_classes, data_samples)
        losses['loss_center'] = self.center_loss(pre, labels)
        if self.record_env_scores:
            self.env_scores = self._true_class_probs(cls_score, labels,
                                                     data_samples)
        return losses

    @staticmethod
    def _true_class_probs(cls_score: Tensor, labels: Tensor,
                          data_samples: List[DataSample]
                          ) -> Tuple[Tensor, Tensor]:
        if any('sample_idx' not in s for s in data_samples):
            raise KeyError(
                'IFL needs the dataset index of every training image: keep '
                "'sample_idx' in the meta_keys of PackInputs")
        index = torch.tensor([int(s.sample_idx) for s in data_samples])
        prob = cls_score.detach().float().softmax(dim=1)
        prob = prob.gather(1, labels[:, None]).squeeze(1)
        return index, prob.cpu().double()


@MODELS.register_module()
class DSBIFLLinearClsHead(DSBHeadMixin, IFLLinearClsHead):
    """:class:`IFLLinearClsHead` with Dynamic Semantic-Scale-Balanced
    weights on its classification term (see :class:`DSBHeadMixin`); the
    bank holds the classifier input, the centre loss is unweighted. Outside
    the re-weighting stage its losses are exactly ``IFLLinearClsHead``'s.
    Same arguments and state-dict keys."""
