from .weighter import SemanticScaleWeighter

__all__ = ['SemanticScaleWeighter']
