from .class_counts_hook import ClassCountsHook, dataset_class_counts
from .dsb_hook import DSBHook
from .weighter import SemanticScaleWeighter

__all__ = [
    'DSBHook', 'SemanticScaleWeighter', 'ClassCountsHook',
    'dataset_class_counts'
]
