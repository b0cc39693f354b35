from .dsb_hook import DSBHook
from .weighter import SemanticScaleWeighter

__all__ = ['DSBHook', 'SemanticScaleWeighter']
