from .bbn import BBNClassifier, bbn_alpha
from .dive import DiVEClassifier
from .multi_view_preprocessor import MultiViewClsDataPreprocessor
from .paco import PaCoClassifier

__all__ = [
    'BBNClassifier', 'bbn_alpha', 'DiVEClassifier',
    'MultiViewClsDataPreprocessor', 'PaCoClassifier'
]
