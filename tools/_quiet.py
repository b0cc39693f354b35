"""Silence the known-harmless warnings of mmdsb's pinned stack.

Imported first by every script under ``tools/`` (before torch, mmengine or
mmdsb, whose imports emit them). Each filter names the category, a regular
expression of the message and the module the warning is attributed to;
every other warning is shown as usual.
``python -W default`` or ``PYTHONWARNINGS`` given on the command line still
apply to all warnings that no filter here matches.
"""
import warnings

# (category, message regex, regex of the module the warning names)
KNOWN_HARMLESS = (
    # mmcv-lite has no compiled ops; mmcv's transformer module says so on
    # every import of mmpretrain. Classification never uses that op, and
    # detection installs the full mmcv (tools/install.sh --det).
    (UserWarning,
     r'Fail to import ``MultiScaleDeformableAttention`` from '
     r'``mmcv\.ops\.multi_scale_deform_attn``',
     r'mmcv\.cnn\.bricks\.transformer\Z'),
    # mmengine 0.10.7 imports (and reloads) pkg_resources to look packages
    # up; setuptools >= 67.5 warns about the API itself (UserWarning from
    # setuptools 80, DeprecationWarning before), attributed to mmengine or,
    # for the reload, to importlib.
    (UserWarning, r'pkg_resources is deprecated as an API',
     r'(mmengine\.utils\.package_utils|importlib)\Z'),
    (DeprecationWarning, r'pkg_resources is deprecated as an API',
     r'(mmengine\.utils\.package_utils|importlib)\Z'),
    # mmengine's DDP wrapper passes broadcast_buffers, deprecated by recent
    # torch; mmengine keeps its meaning (buffers are not broadcast).
    (FutureWarning,
     r'`broadcast_buffers` is deprecated\. Use `forward_sync_buffers` '
     r'instead', r'mmengine\.model\.wrappers\.distributed\Z'),
)


def silence_known_warnings():
    """Add an ``ignore`` filter for each entry of :data:`KNOWN_HARMLESS`."""
    for category, message, module in KNOWN_HARMLESS:
        warnings.filterwarnings(
            'ignore', message=message, category=category, module=module)


silence_known_warnings()
