"""Detection datasets of mmdsb."""
from .digits_lvis import (DIGIT_CLASSES, long_tailed_split, lvis_frequency,
                          write_digits_lvis)
from .lvis_api import patch_lvis_eval

patch_lvis_eval()

__all__ = [
    'DIGIT_CLASSES', 'lvis_frequency', 'long_tailed_split',
    'write_digits_lvis'
]
