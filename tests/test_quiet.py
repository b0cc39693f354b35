"""Quiet tools: the known-harmless warnings of the stack are filtered by
category, message and module, every other warning still shows, and the
analysis progress prints plain lines when its stream is not a terminal."""
import io
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmdsb.analysis.progress import LineProgress, progress_bar

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
DEMO = osp.join(REPO, 'configs', 'demo', 'ce_lenet5_digits-lt.py')

# The texts as the pinned packages write them (mmcv 2.1.0's
# cnn/bricks/transformer.py under mmcv-lite, setuptools' pkg_resources,
# torch's DistributedDataParallel), each with the module it is attributed to.
MMCV_LITE = ('Fail to import ``MultiScaleDeformableAttention`` from '
             '``mmcv.ops.multi_scale_deform_attn``, You should install '
             '``mmcv`` rather than ``mmcv-lite`` if you need this module. ')
PKG_RESOURCES = ('pkg_resources is deprecated as an API. See '
                 'https://setuptools.pypa.io/en/latest/pkg_resources.html.')
BROADCAST = ('`broadcast_buffers` is deprecated. Use `forward_sync_buffers` '
             'instead.')
HARMLESS_MARKS = ('MultiScaleDeformableAttention', 'pkg_resources is '
                  'deprecated', '`broadcast_buffers` is deprecated')


def python(code, quiet):
    """Run ``code`` in a fresh interpreter, after tools/_quiet.py when
    ``quiet``; returns its stderr."""
    prefix = (f'import sys; sys.path.append({TOOLS!r}); import _quiet\n'
              if quiet else '')
    proc = subprocess.run(
        [sys.executable, '-c', prefix + code],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def test_filters_match_category_message_and_module():
    """Each known warning is dropped only with its category, message and
    module; the same text elsewhere, or another text from the same module,
    still shows. Messages carry a tag at their end (the filters match the
    start)."""
    code = f"""
import warnings
def emit(tag, message, category, module):
    warnings.warn_explicit(f'{{message}} [{{tag}}]', category,
                           module.replace('.', '/') + '.py', 1,
                           module=module, registry=None)
emit('drop-mmcv', {MMCV_LITE!r}, UserWarning, 'mmcv.cnn.bricks.transformer')
emit('drop-pkg', {PKG_RESOURCES!r}, UserWarning,
     'mmengine.utils.package_utils')
emit('drop-pkg-reload', {PKG_RESOURCES!r}, UserWarning, 'importlib')
emit('drop-pkg-old', {PKG_RESOURCES!r}, DeprecationWarning, 'importlib')
emit('drop-ddp', {BROADCAST!r}, FutureWarning,
     'mmengine.model.wrappers.distributed')
emit('show-module', {MMCV_LITE!r}, UserWarning, 'mypackage.transformer')
emit('show-module-pkg', {PKG_RESOURCES!r}, UserWarning, 'mypackage')
emit('show-category', {MMCV_LITE!r}, RuntimeWarning,
     'mmcv.cnn.bricks.transformer')
emit('show-message', 'something else', UserWarning,
     'mmengine.utils.package_utils')
emit('show-message-ddp', 'something else', FutureWarning,
     'mmengine.model.wrappers.distributed')
"""
    err = python(code, quiet=True)
    shown = set(re.findall(r'\[((?:drop|show)[\w-]*)\]', err))
    assert shown == {'show-module', 'show-module-pkg', 'show-category',
                     'show-message', 'show-message-ddp'}, err
    # Without the filters all show but the DeprecationWarning, which
    # Python's own default filters hide outside __main__.
    err = python(code, quiet=False)
    shown = set(re.findall(r'\[((?:drop|show)[\w-]*)\]', err))
    assert len(shown) == 9 and 'drop-pkg-old' not in shown, err


@pytest.mark.slow  # two interpreters that import the whole stack
def test_stack_warnings_silenced_for_real():
    """Importing mmdsb and wrapping a model in mmengine's DDP warn with this
    stack; after tools/_quiet.py only an unrelated warning shows."""
    code = """
import socket, warnings
import torch.distributed as dist
import mmdsb  # imports mmengine and mmpretrain
from mmengine.model import MMDistributedDataParallel
import torch.nn as nn
with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                        rank=0, world_size=1)
MMDistributedDataParallel(module=nn.Linear(2, 2), device_ids=None,
                          broadcast_buffers=False)
dist.destroy_process_group()
warnings.warn('something else')
"""
    plain = python(code, quiet=False)
    seen = [m for m in HARMLESS_MARKS if m in plain]
    # The pinned stack warns (setuptools >= 67.5, torch >= 2.13): else this
    # test would show nothing.
    assert seen, plain
    quiet = python(code, quiet=True)
    assert not [m for m in HARMLESS_MARKS if m in quiet], quiet
    assert 'UserWarning: something else' in quiet


@pytest.mark.slow  # the whole analysis command in a fresh interpreter
def test_analysis_tool_stderr_is_quiet_and_line_based(tmp_path):
    """A real analysis command with its stderr a pipe: no warning at all,
    and the progress as plain lines (342 training images read in batches of
    64) instead of '\\r' redraws."""
    proc = subprocess.run(
        [sys.executable, 'tools/analysis_tools/dataset_report.py', DEMO,
         '--out-dir', str(tmp_path)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1',
                 MPLBACKEND='Agg'),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Warning' not in proc.stderr and '\r' not in proc.stderr
    lines = proc.stderr.splitlines()
    progress = [re.match(r'images: (\d+)/342 \(\d+%\), [\d.]+s$', line)
                for line in lines[1:]]
    assert all(progress), proc.stderr
    assert [int(m.group(1)) for m in progress] == [64, 128, 192, 256, 320,
                                                   342]


def test_line_progress_prints_every_tenth():
    out = io.StringIO()
    bar = LineProgress(100, out, label='samples')
    for _ in range(100):
        bar.update()
    bar.finish()  # the last update printed the end already
    lines = out.getvalue().splitlines()
    assert [re.sub(r', [\d.]+s$', '', line) for line in lines] == [
        f'samples: {n}/100 ({n}%)' for n in range(10, 101, 10)]
    assert '\r' not in out.getvalue()


def test_line_progress_batches_skip_passed_tenths():
    # 342 samples in batches of 64: 64 is 18.7% (one tenth passed), 128 is
    # 37.4% (three), 192 56.1%, 256 74.9%, 320 93.6%, 342 the end.
    out = io.StringIO()
    bar = LineProgress(342, out, label='images')
    for done in (64, 64, 64, 64, 64, 22):
        bar.update(done)
    bar.finish()
    counts = [re.match(r'images: (\d+)/342 \((\d+)%\)', line).groups()
              for line in out.getvalue().splitlines()]
    assert counts == [('64', '19'), ('128', '37'), ('192', '56'),
                      ('256', '75'), ('320', '94'), ('342', '100')]


def test_line_progress_unknown_total_and_bad_step():
    out = io.StringIO()
    bar = LineProgress(0, out, label='items')
    bar.update(3)
    assert out.getvalue() == ''
    bar.finish()
    assert re.fullmatch(r'items: 3, [\d.]+s\n', out.getvalue())
    with pytest.raises(ValueError, match='step'):
        LineProgress(10, out, step=0)


class _Terminal(io.StringIO):

    def isatty(self):
        return True


def test_progress_bar_keeps_mmengine_bar_on_a_terminal():
    term, log = _Terminal(), io.StringIO()
    for stream in (term, log):
        bar = progress_bar(4, 'classes', file=stream)
        for _ in range(4):
            bar.update()
        bar.finish()
    # mmengine's bar redraws with '\r' and ends on a newline.
    assert term.getvalue().count('\r') == 4
    assert term.getvalue().endswith('\n')
    assert '4/4' in term.getvalue() and 'classes' not in term.getvalue()
    assert log.getvalue().splitlines()[-1].startswith('classes: 4/4 (100%)')
    assert '\r' not in log.getvalue()
