"""The DSB form of PaCo's head."""
from mmpretrain.registry import MODELS

from .dsb_head import DSBHeadMixin
from .paco_head import PaCoHead

__all__ = ['DSBPaCoHead']


@MODELS.register_module()
class DSBPaCoHead(DSBHeadMixin, PaCoHead):
    """:class:`PaCoHead` with Dynamic Semantic-Scale-Balanced weights.

    The DSB bank holds the classifier input (the pooled backbone features
    of the query view). In the re-weighting stage each anchor's PaCo term
    is weighted by the DSB weight of its class, ``mean_i(a_{y_i} l_i)``;
    before it the loss is exactly :class:`PaCoHead`'s. Same arguments and
    state-dict keys.
    """
