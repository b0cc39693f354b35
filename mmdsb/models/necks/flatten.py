"""A neck that turns the last feature map into one vector per image."""
from typing import Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class FlattenNeck(BaseModule):
    """Flattens each feature map to ``(N, C * H * W)``, after an adaptive
    average pooling to ``output_size`` if given.

    The fully connected classifier of VGG expects 512 x 7 x 7 values per
    image; pooling to ``(7, 7)`` first keeps that true for any input size
    (as torchvision's VGG does), while global average pooling would drop
    the spatial layout the classifier was built for.

    Args:
        output_size: ``(H, W)`` (or one int for both) to pool to; ``None``
            flattens the maps as they are.
    """

    def __init__(self,
                 output_size: Optional[Union[int, Sequence[int]]] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.output_size = output_size

    def forward(self, inputs: Union[Tensor, Tuple[Tensor]]
                ) -> Union[Tensor, Tuple[Tensor]]:
        if isinstance(inputs, Tensor):
            return self._flatten(inputs)
        return tuple(self._flatten(x) for x in inputs)

    def _flatten(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f'FlattenNeck expects (N, C, H, W) feature '
                             f'maps, got shape {tuple(x.shape)}')
        if self.output_size is not None:
            x = F.adaptive_avg_pool2d(x, self.output_size)
        return x.flatten(1)
