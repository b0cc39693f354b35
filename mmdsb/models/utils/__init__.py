"""Building blocks shared by mmdsb's heads."""
from .feature_memory import FeatureMemory

__all__ = ['FeatureMemory']
