from .class_counts_hook import (ClassCountsConsumer, ClassCountsHook,
                                ClassifierHead, EpochAware,
                                dataset_class_counts)
from .consumer import DSBConsumer
from .dsb_hook import DSBHook
from .ifl_hook import IFLHook, ifl_intra_weights
from .invalid_loss_hook import InvalidLossHook
from .weighter import SemanticScaleWeighter

__all__ = [
    'DSBConsumer', 'DSBHook', 'SemanticScaleWeighter', 'ClassCountsHook',
    'ClassCountsConsumer', 'ClassifierHead', 'EpochAware',
    'dataset_class_counts', 'InvalidLossHook', 'IFLHook', 'ifl_intra_weights'
]
