"""mmdsb as an installed package: a normal (not editable) install into a
fresh virtual environment, then, from an unrelated folder, a config that
inherits ``mmpretrain::`` and ``mmdsb::`` configs trains through the
installed ``tools/train.py`` and through ``mim train``, and ``mim test``
evaluates the checkpoint."""
import json
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys
from collections import Counter

import pytest
import torch

from fixtures import write_cifar_pickles

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 2

# What a user writes in a project of their own: a stock mmpretrain config,
# the DSB piece from the installed package and a DSB head. mmdsb's CIFAR-10
# reader with imbalance ratio 1 keeps every image of the local pickles
# (mmpretrain's CIFAR10 would check their md5 sums and download).
USER_CONFIG = """
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py',
          'mmdsb::_base_/dsb_runtime.py']
model = dict(head=dict(type='DSBLinearClsHead'))
data = dict(type='CIFAR10LT', data_root='{data_root}', imbalance_ratio=1)
train_dataloader = dict(batch_size=10, num_workers=0,
                        persistent_workers=False, dataset=data)
val_dataloader = dict(batch_size=10, num_workers=0, persistent_workers=False,
                      dataset=data)
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
"""

# Run inside the environment: mmdsb comes from its site-packages, and a
# shipped config inherited through 'mmdsb::' builds its model (its dicts
# carry the scope 'mmdsb').
CHECK_INSTALL = """
import os.path as osp, sys, sysconfig
import mmdsb
from mmengine.config import Config
from mmengine.registry import MODELS
site = sysconfig.get_paths()['purelib']
assert mmdsb.__file__.startswith(site), (mmdsb.__file__, site)
open('demo.py', 'w').write(
    "_base_ = ['mmdsb::demo/dsb_lenet5_digits-lt.py']\\n")
cfg = Config.fromfile('demo.py')
assert cfg.model._scope_ == 'mmdsb', cfg.model
model = MODELS.build(cfg.model)
print(type(model).__name__, type(model.head).__name__)
print(osp.dirname(mmdsb.__file__))
"""


def _copy_checkout(dest):
    """The checkout without build outputs, so the build never writes into
    the working tree and never picks up an editable install's links."""
    shutil.copytree(
        ROOT, dest,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'build', 'data',
                                      '*.egg-info', '__pycache__', '.mim',
                                      '.pytest_cache', '*.pth'))


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (
        f'{" ".join(map(str, cmd))} exited with {proc.returncode}\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc.stdout


@pytest.mark.slow
def test_installed_package_trains_with_tools_and_mim(tmp_path):
    pytest.importorskip('mim', reason='needs openmim (requirements/tests.txt)')
    src, venv, user = tmp_path / 'src', tmp_path / 'venv', tmp_path / 'user'
    _copy_checkout(src)
    # The stack (torch, mmengine, mmpretrain, openmim) comes from the
    # interpreter running the tests; without pip of its own the environment
    # uses that pip (and setuptools) too, and installs into itself.
    subprocess.run([sys.executable, '-m', 'venv', '--system-site-packages',
                    '--without-pip', str(venv)], check=True)
    python = str(venv / 'bin' / 'python')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               # mim adds a find-links URL for mmcv wheels; a local path
               # that does not exist keeps the install offline.
               MMCV_BASE_URL='file:///nonexistent')
    user.mkdir()
    _run([python, '-m', 'mim', 'install', '--no-deps', '--no-build-isolation',
          str(src)], cwd=user, env=env)
    out = _run([python, '-c', CHECK_INSTALL], cwd=user, env=env)
    built, installed = out.strip().splitlines()[-2:]
    assert built == 'ImageClassifier DSBLinearClsHead', out
    assert osp.isfile(osp.join(installed, '.mim', 'configs', '_base_',
                               'dsb_runtime.py'))
    assert not osp.islink(osp.join(installed, '.mim', 'configs'))

    data_root = write_cifar_pickles(str(user / 'cifar'), 10, TRAIN_PER_CLASS,
                                    TEST_PER_CLASS)
    (user / 'dsb_resnet18_cifar.py').write_text(
        USER_CONFIG.format(data_root=data_root))

    # 1. The installed tools/train.py.
    _run([python, osp.join(installed, '.mim', 'tools', 'train.py'),
          'dsb_resnet18_cifar.py', '--work-dir', 'tools_run'], cwd=user,
         env=env)
    ckpt = torch.load(user / 'tools_run' / 'epoch_1.pth', map_location='cpu',
                      weights_only=False)
    # The DSBHook of 'mmdsb::_base_/dsb_runtime.py' filled its bank with
    # the epoch: every training image once.
    bank = ckpt['dsb_bank']['bank']
    assert bank['capacity'] == 10 * TRAIN_PER_CLASS
    assert Counter(bank['labels'].tolist()) == {
        c: TRAIN_PER_CLASS
        for c in range(10)
    }
    assert ckpt['state_dict']['backbone.conv1.weight'].shape == (64, 3, 3, 3)

    # 2. mim train / mim test with the installed package.
    _run([python, '-m', 'mim', 'train', 'mmdsb', 'dsb_resnet18_cifar.py',
          '--work-dir', 'mim_run'], cwd=user, env=env)
    _run([python, '-m', 'mim', 'test', 'mmdsb', 'dsb_resnet18_cifar.py',
          '--checkpoint', 'mim_run/epoch_1.pth', '--work-dir', 'mim_test',
          '--out', 'preds.pkl'], cwd=user, env=env)
    with open(user / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 10 * TEST_PER_CLASS
    hits = sum(int(p['pred_label'].item() == p['gt_label'].item())
               for p in preds)
    # The validation at the end of training evaluated the same checkpoint
    # on the same images.
    (scalars, ) = (user / 'mim_run').glob('*/vis_data/scalars.json')
    logged = [json.loads(line) for line in scalars.read_text().splitlines()]
    val_top1 = [e['accuracy/top1'] for e in logged if 'accuracy/top1' in e]
    assert val_top1 == [pytest.approx(100.0 * hits / len(preds))]
