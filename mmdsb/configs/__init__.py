"""mmdsb's configs in mmengine's pure-Python style, for ``read_base()``::

    from mmengine.config import read_base

    with read_base():
        from mmdsb.configs._base_.dsb_runtime import *

The files are read by mmengine's config parser, not imported by mmdsb.
"""
