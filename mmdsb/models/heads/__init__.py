from .dsb_head import *  # noqa: F401,F403
from .dsb_head import __all__  # noqa: F401
