from .dsb_head import *  # noqa: F401,F403
from .dsb_head import __all__ as _dsb_all
from .dsb_head import make_dsb_head
from .cosine_head import CosineClsHead
from .fbl_head import FBLClsHead
from .lws_head import LWSLinearClsHead
from .soft_triple_head import SoftTripleHead

# dsb_head.py wraps the heads registered before it ran; these come later.
DSBCosineClsHead = make_dsb_head(CosineClsHead)
DSBFBLClsHead = make_dsb_head(FBLClsHead)
DSBLWSLinearClsHead = make_dsb_head(LWSLinearClsHead)
DSBSoftTripleHead = make_dsb_head(SoftTripleHead)

__all__ = list(_dsb_all) + [
    'CosineClsHead', 'FBLClsHead', 'LWSLinearClsHead', 'SoftTripleHead',
    'DSBCosineClsHead', 'DSBFBLClsHead', 'DSBLWSLinearClsHead',
    'DSBSoftTripleHead'
]
