from .cifar_lt import CIFAR10LT, CIFAR100LT
from .digits_lt import DigitsLT, long_tailed_counts
from .samplers import CBENSampler, cben_class_probabilities

__all__ = [
    'DigitsLT', 'long_tailed_counts', 'CIFAR10LT', 'CIFAR100LT',
    'CBENSampler', 'cben_class_probabilities'
]
