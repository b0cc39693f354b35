"""The classifier head of PaCo: the linear layer whose weights are the
parametric class centres."""
from typing import List

import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

__all__ = ['PaCoHead']


@MODELS.register_module()
class PaCoHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` trained with :class:`PaCoLoss`.

    The linear layer ``fc`` acts on the pooled backbone features and its
    logits are the similarities to the learnable class centres. Prediction
    is the plain linear classifier (the loss's log-prior shift is for
    training only). :class:`PaCoClassifier` passes the contrastive inputs
    (query and key features, the queue) to :meth:`loss` as keyword
    arguments, and ``weight`` (per anchor) where DSB gives one.

    Args: as for ``LinearClsHead``; ``loss`` defaults to ``PaCoLoss``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(type='PaCoLoss'),
                 **kwargs):
        super().__init__(num_classes, in_channels, loss=loss, **kwargs)

    def _get_loss(self,
                  cls_score: Tensor,
                  data_samples: List[DataSample],
                  query: Tensor = None,
                  keys: Tensor = None,
                  queue: Tensor = None,
                  queue_labels: Tensor = None,
                  weight: Tensor = None) -> dict:
        if query is None or keys is None or queue is None or \
                queue_labels is None:
            raise RuntimeError(
                f'{type(self).__name__} needs the query and key features '
                "and the queue: use it in model=dict(type='PaCoClassifier')")
        if 'gt_score' in data_samples[0]:
            raise ValueError(
                'PaCo needs hard labels for its positives; remove the '
                'Mixup/CutMix batch augments (train_cfg.augments)')
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            cls_score.device)
        loss = self.loss_module(cls_score, query, keys, labels, queue,
                                queue_labels, weight=weight)
        return dict(loss=loss)
