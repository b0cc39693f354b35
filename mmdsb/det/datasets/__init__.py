"""Detection datasets of mmdsb."""
from .digits_lvis import (DIGIT_CLASSES, long_tailed_split, lvis_frequency,
                          write_digits_lvis)
from .lvis_api import patch_lvis_eval
from .unknown_categories import (count_unknown_categories,
                                 patch_unknown_category_warning,
                                 warn_unknown_categories)

patch_lvis_eval()
patch_unknown_category_warning()

__all__ = [
    'DIGIT_CLASSES', 'lvis_frequency', 'long_tailed_split',
    'write_digits_lvis', 'count_unknown_categories',
    'warn_unknown_categories'
]
