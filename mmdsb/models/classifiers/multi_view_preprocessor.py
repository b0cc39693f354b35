"""Classification preprocessing for batches with several views of each
image (mmpretrain's ``MultiView`` transform)."""
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from torch import Tensor

__all__ = ['MultiViewClsDataPreprocessor']


def _is_multi_view(inputs) -> bool:
    """Views of a batch: a list of views, each a list of ``(3, H, W)``
    images (``pseudo_collate``) or one ``(N, 3, H, W)`` tensor
    (``default_collate``). A single view is a tensor or a list of
    ``(3, H, W)`` images."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        return False
    first = inputs[0]
    return isinstance(first, (list, tuple)) or (isinstance(first, Tensor)
                                                and first.dim() == 4)


@MODELS.register_module()
class MultiViewClsDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` applied to each view of a multi-view batch.

    A batch from ``MultiView`` (training) comes out as ``inputs`` = a list
    of views, each normalised and stacked like a single-view batch; a
    single-view batch (testing) is processed as by
    ``ClsDataPreprocessor``. Batch augments (Mixup, CutMix) would mix the
    views differently, so they are refused for multi-view batches.

    Args: as for ``ClsDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if not _is_multi_view(inputs):
            return super().forward(data, training)
        if training and self.batch_augments is not None:
            raise ValueError(
                'MultiViewClsDataPreprocessor: batch augments (Mixup, '
                'CutMix) cannot mix several views of an image consistently;'
                ' remove train_cfg.augments')
        views = [
            super(MultiViewClsDataPreprocessor,
                  self).forward(dict(data, inputs=view), training)
            for view in inputs
        ]
        return dict(inputs=[v['inputs'] for v in views],
                    data_samples=views[0]['data_samples'])
