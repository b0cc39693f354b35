"""DSB+MBJ: Memory-based Jitter with DSB loss weights."""
from mmpretrain.registry import MODELS

from .dsb_head import DSBHeadMixin
from .mbj_head import MBJLinearClsHead

__all__ = ['DSBMBJLinearClsHead']


@MODELS.register_module()
class DSBMBJLinearClsHead(DSBHeadMixin, MBJLinearClsHead):
    """:class:`MBJLinearClsHead` with Dynamic Semantic-Scale-Balanced loss
    weights (see :class:`DSBHeadMixin`); the DSB bank holds the input of
    its linear layer, as the MBJ memory does.

    In the re-weighting stage ``a_y`` weights the batch loss only; the
    memory loss stays unweighted: the memory is already near
    class-balanced by its admission probabilities, and weighting it again
    would count the tail twice. Outside that stage the head is
    :class:`MBJLinearClsHead` exactly. Same arguments and state-dict keys.
    """
