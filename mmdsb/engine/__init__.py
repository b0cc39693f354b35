from .class_counts_hook import ClassCountsHook, dataset_class_counts
from .consumer import DSBConsumer
from .dsb_hook import DSBHook
from .invalid_loss_hook import InvalidLossHook
from .weighter import SemanticScaleWeighter

__all__ = [
    'DSBConsumer', 'DSBHook', 'SemanticScaleWeighter', 'ClassCountsHook',
    'dataset_class_counts', 'InvalidLossHook'
]
