from .bbn import BBNClassifier, bbn_alpha
from .dive import DiVEClassifier

__all__ = ['BBNClassifier', 'bbn_alpha', 'DiVEClassifier']
