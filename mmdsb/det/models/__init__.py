"""DSB box heads and long-tailed detection losses for mmdet."""
from .dsb_bbox_head import (DSBBBoxHeadMixin, DSBConvFCBBoxHead,
                            DSBShared2FCBBoxHead, DSBShared4Conv1FCBBoxHead)
from .dsb_retina_head import DSBRetinaHead
from .equalization_loss_v2 import EqualizationLossV2
from .instances import instances_per_epoch

__all__ = [
    'DSBBBoxHeadMixin', 'DSBConvFCBBoxHead', 'DSBShared2FCBBoxHead',
    'DSBShared4Conv1FCBBoxHead', 'DSBRetinaHead', 'EqualizationLossV2',
    'instances_per_epoch'
]
