"""BN-Inception (Ioffe & Szegedy, 2015), the backbone of deep metric
learning, with the module names of the widely used PyTorch port of the
Caffe model so that its ImageNet checkpoint loads unchanged."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from torch import Tensor

from ...guards import positive_int

__all__ = ['BNInception']

# Inception blocks in order: (name, input channels, branches).
# A block with a 1x1 branch keeps the resolution: (1x1, 3x3 reduce, 3x3,
# double-3x3 reduce, double 3x3, pool type, pool projection) and its output
# is the concatenation of the four branches. A block without one halves
# the resolution: (3x3 reduce, 3x3, double-3x3 reduce, double 3x3), the
# second convolution of each branch has stride 2, and a 3x3/2 max pooling
# of the input passes through as the third branch.
_BLOCKS = (
    ('3a', 192, (64, 64, 64, 64, 96, 'avg', 32)),
    ('3b', 256, (64, 64, 96, 64, 96, 'avg', 64)),
    ('3c', 320, (128, 160, 64, 96)),
    ('4a', 576, (224, 64, 96, 96, 128, 'avg', 128)),
    ('4b', 576, (192, 96, 128, 96, 128, 'avg', 128)),
    ('4c', 576, (160, 128, 160, 128, 160, 'avg', 128)),
    ('4d', 608, (96, 128, 192, 160, 192, 'avg', 128)),
    ('4e', 608, (128, 192, 192, 256)),
    ('5a', 1056, (352, 192, 320, 160, 224, 'avg', 128)),
    ('5b', 1024, (352, 192, 320, 192, 224, 'max', 128)),
)


def _block_out_channels(in_channels: int, branches: tuple) -> int:
    if len(branches) == 7:
        return branches[0] + branches[2] + branches[4] + branches[6]
    return branches[1] + branches[3] + in_channels


@MODELS.register_module()
class BNInception(BaseBackbone):
    """Inception with batch normalisation after every convolution.

    The layers and their names follow the PyTorch port of the Caffe
    BN-Inception (``bninception`` of Cadene's ``pretrained-models.pytorch``,
    which the SoftTriple and NormSoftmax code use): every convolution
    ``<name>`` (with bias) is followed by ``<name>_bn`` and a ReLU, so the
    port's ImageNet checkpoint (``bn_inception-52deb4733.pth``) loads with
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``; its classifier
    ``last_linear`` is left out (reported as unexpected keys). Older
    conversions store the batch-norm tensors as ``(1, C)``; they are
    reshaped to ``(C, )`` on loading.

    The checkpoint expects BGR images in [0, 255] minus the mean
    ``[104, 117, 128]`` with std 1 (the data preprocessor of
    ``configs/_base_/models/bn-inception_*.py``).

    Args:
        in_channels: input channels (3).
        norm_eval: keep the batch-norm layers in eval mode while training
            (running statistics frozen), as SoftTriple's ``--freeze_BN``.
        init_cfg: initialisation config, e.g. the pretrained checkpoint.

    Returns a 1-tuple with the 1024-channel output of ``inception_5b``
    (7 x 7 for a 224 x 224 input).
    """

    def __init__(self,
                 in_channels: int = 3,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        in_channels = positive_int(in_channels, 'in_channels', 'BNInception')
        self.norm_eval = norm_eval
        self._conv_bn('conv1_7x7_s2', in_channels, 64, 7, stride=2)
        self._conv_bn('conv2_3x3_reduce', 64, 64, 1)
        self._conv_bn('conv2_3x3', 64, 192, 3)
        for name, cin, branches in _BLOCKS:
            p = f'inception_{name}_'
            if len(branches) == 7:
                c1, c3r, c3, cdr, cd, _, cp = branches
                self._conv_bn(p + '1x1', cin, c1, 1)
                self._conv_bn(p + '3x3_reduce', cin, c3r, 1)
                self._conv_bn(p + '3x3', c3r, c3, 3)
                self._conv_bn(p + 'double_3x3_reduce', cin, cdr, 1)
                self._conv_bn(p + 'double_3x3_1', cdr, cd, 3)
                self._conv_bn(p + 'double_3x3_2', cd, cd, 3)
                self._conv_bn(p + 'pool_proj', cin, cp, 1)
            else:
                c3r, c3, cdr, cd = branches
                self._conv_bn(p + '3x3_reduce', cin, c3r, 1)
                self._conv_bn(p + '3x3', c3r, c3, 3, stride=2)
                self._conv_bn(p + 'double_3x3_reduce', cin, cdr, 1)
                self._conv_bn(p + 'double_3x3_1', cdr, cd, 3)
                self._conv_bn(p + 'double_3x3_2', cd, cd, 3, stride=2)
        self.out_channels = _block_out_channels(*_BLOCKS[-1][1:])
        self._register_load_state_dict_pre_hook(self._squeeze_bn_tensors)

    def _conv_bn(self, name: str, cin: int, cout: int, kernel: int,
                 stride: int = 1) -> None:
        self.add_module(
            name,
            nn.Conv2d(cin, cout, kernel, stride=stride,
                      padding=kernel // 2))
        self.add_module(name + '_bn', nn.BatchNorm2d(cout))

    def _cbr(self, name: str, x: Tensor) -> Tensor:
        bn = getattr(self, name + '_bn')
        return F.relu(bn(getattr(self, name)(x)), inplace=True)

    @staticmethod
    def _max_pool(x: Tensor, stride: int) -> Tensor:
        # ceil_mode as in Caffe: 112 -> 56 -> 28 -> 14 -> 7 for 224 input.
        return F.max_pool2d(x, 3, stride=stride, padding=0 if stride == 2
                            else 1, ceil_mode=True)

    def _block(self, name: str, branches: tuple, x: Tensor) -> Tensor:
        p = f'inception_{name}_'
        double = self._cbr(p + 'double_3x3_2', self._cbr(
            p + 'double_3x3_1', self._cbr(p + 'double_3x3_reduce', x)))
        three = self._cbr(p + '3x3', self._cbr(p + '3x3_reduce', x))
        if len(branches) == 4:
            return torch.cat([three, double, self._max_pool(x, 2)], 1)
        if branches[5] == 'avg':
            pooled = F.avg_pool2d(x, 3, stride=1, padding=1, ceil_mode=True,
                                  count_include_pad=True)
        else:
            pooled = self._max_pool(x, 1)
        return torch.cat([
            self._cbr(p + '1x1', x), three, double,
            self._cbr(p + 'pool_proj', pooled)
        ], 1)

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        x = self._max_pool(self._cbr('conv1_7x7_s2', x), 2)
        x = self._cbr('conv2_3x3', self._cbr('conv2_3x3_reduce', x))
        x = self._max_pool(x, 2)
        for name, _, branches in _BLOCKS:
            x = self._block(name, branches, x)
        return (x, )

    @staticmethod
    def _squeeze_bn_tensors(state_dict: Dict[str, Tensor], prefix: str,
                            *args) -> None:
        """Reshape the ``(1, C)`` batch-norm tensors of older conversions
        of the Caffe model to the ``(C, )`` of ``nn.BatchNorm2d``."""
        for key in list(state_dict):
            if key.startswith(prefix) and '_bn.' in key and \
                    state_dict[key].dim() == 2 and \
                    state_dict[key].shape[0] == 1:
                state_dict[key] = state_dict[key].reshape(-1)

    def train(self, mode: bool = True) -> 'BNInception':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
