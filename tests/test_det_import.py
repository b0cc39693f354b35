"""Detection is optional: classification imports without mmdet, and
importing mmdsb.det without mmdet or mmcv's compiled ops names the fix."""
import subprocess
import sys

import pytest

# Each script hides one package (a None entry in sys.modules makes its
# import fail as if it were not installed), then imports mmdsb.
HIDE = "import sys; sys.modules[{name!r}] = None; "


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          timeout=300)


@pytest.mark.slow  # a fresh interpreter imports the stack
def test_classification_does_not_import_mmdet():
    result = run(HIDE.format(name='mmdet') +
                 'import mmdsb, mmdsb.models, mmdsb.engine; '
                 "assert 'DSBLinearClsHead' in dir(mmdsb.models.heads); "
                 "print('ok')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'ok'


@pytest.mark.slow  # a fresh interpreter imports the stack
@pytest.mark.parametrize('missing', ['mmdet', 'mmcv.ops'])
def test_det_without_its_stack_names_the_install_command(missing):
    result = run(HIDE.format(name=missing) + 'import mmdsb.det')
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('ImportError: mmdsb.det needs mmdet 3.3 and mmcv')
    assert 'bash tools/install.sh --det' in last
    assert missing.split('.')[0] in last


def test_det_registers_its_components_in_mmdet():
    result = run('import mmdsb.det; from mmdet.registry import MODELS; '
                 "print(all(MODELS.get(n) is not None for n in ("
                 "'DSBShared2FCBBoxHead', 'DSBRetinaHead', "
                 "'EqualizationLossV2')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'True'
