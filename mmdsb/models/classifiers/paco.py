"""PaCo (Cui et al., *Parametric Contrastive Learning*, ICCV 2021) as an
mmpretrain classifier."""
import copy
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...engine.gather import gather_rows
from ...guards import fraction, positive_int

__all__ = ['PaCoClassifier']

# The initial queue comes from its own generator so that every rank starts
# with the same queue without a broadcast.
_QUEUE_SEED = 0


@MODELS.register_module()
class PaCoClassifier(ImageClassifier):
    """Image classifier trained with parametric contrastive learning.

    The query encoder is ``backbone`` + ``neck`` (global pooling) followed
    by the projection MLP ``Linear(C, C), BN, ReLU, Linear(C, proj_dim)``;
    the key encoder is a momentum (EMA) copy of all three,
    ``theta_k <- m theta_k + (1 - m) theta_q`` before each step, without
    gradients. The head (:class:`PaCoHead`) is the linear classifier on the
    pooled query features, whose weights are the parametric class centres;
    prediction uses it alone, as a plain ``ImageClassifier``.

    Training takes two views of each image (``MultiView`` in the pipeline,
    ``inputs = [query_view, key_view]``). Per step: the query view gives
    the pooled features (to the head) and the normalised projection ``q``;
    the key view, shuffled across ranks for batch normalisation as in
    MoCo, gives ``k``; the loss sees ``q``, ``k`` and the queue as it was
    before this step; then the keys of all ranks (in rank order) replace
    the oldest queue entries, so the queue is the same on every rank.

    The queue (``queue``, ``queue_labels``, ``queue_ptr``) is made of
    buffers, saved in checkpoints. As in the authors' code it starts full
    of random keys, normalised along the queue axis, with random labels;
    they take part in the loss until real keys overwrite them (after
    ``queue_size`` keys). A batch larger than the queue keeps its last
    ``queue_size`` keys; the pointer wraps around, so the queue size need
    not be a multiple of the batch size (the authors' code requires it).

    Args:
        backbone, neck, head, pretrained, train_cfg, init_cfg: as for
            ``ImageClassifier``; ``head`` is a :class:`PaCoHead` (or its
            DSB form) whose ``in_channels`` is the pooled feature size.
        proj_dim: output size of the projection MLP (``--moco-dim`` 128).
        queue_size: number of keys in the queue (``--moco-k`` 8192).
        momentum: ``m`` of the key encoder (``--moco-m`` 0.999).
        data_preprocessor: defaults to ``MultiViewClsDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 proj_dim: int = 128,
                 queue_size: int = 8192,
                 momentum: float = 0.999,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None or isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor or {})
            data_preprocessor.setdefault('type',
                                         'MultiViewClsDataPreprocessor')
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        if not self.with_head or not hasattr(self.head, 'in_channels'):
            raise ValueError('PaCoClassifier needs a PaCoHead with '
                             f'in_channels, got head={head!r}')
        self.proj_dim = positive_int(proj_dim, 'proj_dim', 'PaCoClassifier')
        self.queue_size = positive_int(queue_size, 'queue_size',
                                       'PaCoClassifier')
        self.momentum = fraction(momentum, 'momentum', 'PaCoClassifier')
        feat_dim = self.head.in_channels
        self.projector = nn.Sequential(
            nn.Linear(feat_dim, feat_dim), nn.BatchNorm1d(feat_dim),
            nn.ReLU(inplace=True), nn.Linear(feat_dim, self.proj_dim))
        # A plain ModuleDict (no init_weights): the key encoder is not
        # initialised on its own but copied from the query encoder.
        self.key_encoder = nn.ModuleDict(
            dict(backbone=copy.deepcopy(self.backbone),
                 projector=copy.deepcopy(self.projector)))
        if self.with_neck:
            self.key_encoder['neck'] = copy.deepcopy(self.neck)
        self.key_encoder.requires_grad_(False)
        gen = torch.Generator().manual_seed(_QUEUE_SEED)
        num_classes = self.head.num_classes
        self.register_buffer(
            'queue',
            F.normalize(torch.randn(self.queue_size, self.proj_dim,
                                    generator=gen), dim=0))
        self.register_buffer(
            'queue_labels',
            torch.randint(0, num_classes, (self.queue_size, ), generator=gen))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    # ------------------------------------------------------------ encoders
    def _encoder_pairs(self) -> List[Tuple[nn.Module, nn.Module]]:
        pairs = [(self.backbone, self.key_encoder['backbone']),
                 (self.projector, self.key_encoder['projector'])]
        if self.with_neck:
            pairs.append((self.neck, self.key_encoder['neck']))
        return pairs

    def init_weights(self):
        super().init_weights()
        # The key encoder starts as the (initialised) query encoder.
        for query, key in self._encoder_pairs():
            key.load_state_dict(query.state_dict())

    @torch.no_grad()
    def momentum_update(self) -> None:
        """``theta_k <- m theta_k + (1 - m) theta_q`` for the parameters
        (the key encoder's batch-norm statistics are its own)."""
        for query, key in self._encoder_pairs():
            for p_q, p_k in zip(query.parameters(), key.parameters()):
                p_k.mul_(self.momentum).add_(p_q.detach(),
                                             alpha=1 - self.momentum)

    def project(self, feats: Tuple[Tensor]) -> Tensor:
        """Normalised query projection of the pooled features."""
        return F.normalize(self.projector(feats[-1]), dim=1)

    @torch.no_grad()
    def key_features(self, inputs: Tensor) -> Tensor:
        """Normalised key-encoder features of ``inputs``; under
        data-parallel training the batch is shuffled across ranks so that
        batch normalisation cannot use the pairing of the views."""
        shuffle = get_world_size() > 1
        if shuffle:
            inputs, idx_unshuffle = batch_shuffle_ddp(inputs)
        x = self.key_encoder['backbone'](inputs)
        if self.with_neck:
            x = self.key_encoder['neck'](x)
        k = F.normalize(self.key_encoder['projector'](x[-1]), dim=1)
        if shuffle:
            k = batch_unshuffle_ddp(k, idx_unshuffle)
        return k

    # --------------------------------------------------------------- queue
    @torch.no_grad()
    def enqueue(self, keys: Tensor, labels: Tensor) -> None:
        """Replace the oldest entries by the keys of all ranks (FIFO)."""
        keys, labels, _, _ = gather_rows(keys.detach(), labels)
        num = keys.shape[0]
        kept = min(num, self.queue_size)
        keys, labels = keys[num - kept:], labels[num - kept:]
        # Where writing the keys one by one would have left them.
        idx = (self.queue_ptr + (num - kept) + torch.arange(
            kept, device=self.queue.device)) % self.queue_size
        self.queue.index_copy_(0, idx, keys.to(self.queue))
        self.queue_labels.index_copy_(0, idx, labels.to(self.queue_labels))
        self.queue_ptr.copy_((self.queue_ptr + num) % self.queue_size)

    # ---------------------------------------------------------------- loss
    def _two_views(self, inputs) -> Tuple[Tensor, Tensor]:
        if not isinstance(inputs, Sequence) or len(inputs) != 2 or not all(
                isinstance(x, Tensor) for x in inputs):
            got = (f'{len(inputs)} views' if isinstance(inputs, Sequence)
                   else f'a {type(inputs).__name__}')
            raise ValueError(
                'PaCoClassifier trains on two views of each image (query, '
                "key): use dict(type='MultiView', num_views=[1, 1], "
                'transforms=[...]) in the training pipeline and '
                f'MultiViewClsDataPreprocessor; got {got}')
        return inputs[0], inputs[1]

    def loss(self, inputs: List[Tensor],
             data_samples: List[DataSample]) -> dict:
        im_q, im_k = self._two_views(inputs)
        feats = self.extract_feat(im_q)
        query = self.project(feats)
        self.momentum_update()
        keys = self.key_features(im_k)
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            query.device)
        queue = self.queue.clone()
        queue_labels = self.queue_labels.clone()
        self.enqueue(keys, labels)
        return self.head.loss(feats, data_samples, query=query, keys=keys,
                              queue=queue, queue_labels=queue_labels)
