from mmpretrain.models.heads import ClsHead

from ...engine.class_counts_hook import ClassifierHead
from .cosine_head import CosineClsHead, DSBCosineClsHead
from .dsb_head import (DSBHeadMixin, DSBLeViTClsHead, DSBLinearClsHead,
                       DSBStackedLinearClsHead, DSBVigClsHead,
                       DSBVisionTransformerClsHead, check_sample_labels,
                       sample_weights)
from .dsb_mbj_head import DSBMBJLinearClsHead
from .dsb_paco_head import DSBPaCoHead
from .dsb_ride_head import DSBRIDEHead
from .fbl_head import DSBFBLClsHead, FBLClsHead
from .ifl_head import DSBIFLLinearClsHead, IFLLinearClsHead
from .lws_head import DSBLWSLinearClsHead, LWSLinearClsHead
from .mbj_head import MBJLinearClsHead
from .mbj_ride_head import MBJRIDEHead
from .paco_head import PaCoHead
from .ride_expert_bank import RIDEExpertBank
from .ride_head import RIDEHead
from .ride_router_head import RIDERouterHead
from .soft_triple_head import DSBSoftTripleHead, SoftTripleHead
from .tde_head import TDEClsHead

# ClassCountsHook checks the num_classes of every mmpretrain head.
ClassifierHead.register(ClsHead)

__all__ = [
    'DSBHeadMixin', 'DSBLinearClsHead', 'DSBStackedLinearClsHead',
    'DSBVisionTransformerClsHead', 'DSBLeViTClsHead', 'DSBVigClsHead',
    'CosineClsHead', 'FBLClsHead', 'LWSLinearClsHead', 'SoftTripleHead',
    'DSBCosineClsHead', 'DSBFBLClsHead', 'DSBLWSLinearClsHead',
    'DSBSoftTripleHead', 'sample_weights', 'check_sample_labels', 'TDEClsHead',
    'IFLLinearClsHead', 'DSBIFLLinearClsHead', 'RIDEHead', 'DSBRIDEHead',
    'RIDEExpertBank', 'RIDERouterHead', 'MBJLinearClsHead',
    'DSBMBJLinearClsHead', 'PaCoHead', 'DSBPaCoHead', 'MBJRIDEHead'
]
