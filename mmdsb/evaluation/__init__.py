from .lt_metrics import (GLTAccuracy, PerClassAccuracy, RetrievalMetric,
                         kmeans_nmi, model_bias, recall_at_k)
from .shot_accuracy import ShotAccuracy

__all__ = [
    'ShotAccuracy', 'PerClassAccuracy', 'GLTAccuracy', 'RetrievalMetric',
    'model_bias', 'recall_at_k', 'kmeans_nmi'
]
