"""Two CPU processes (gloo) through tools/dist_train.sh hold the same bank
and compute the same class weights."""
import os
import os.path as osp
import socket
import subprocess

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Imported through custom_imports in the training processes: saves what
# each rank holds at the end of training.
DUMP_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpDSBState(Hook):
    priority = 'LOWEST'

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def after_train(self, runner):
        weighter = runner.model.module.head.dsb_weighter
        feats, labels = weighter.bank.ordered()
        torch.save(
            dict(feats=feats, labels=labels, stage=weighter.stage,
                 weights=weighter.class_weights(),
                 fc=runner.model.module.head.fc.weight.detach()),
            f'{self.out_dir}/rank{get_rank()}.pt')
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_end_with_identical_banks_and_weights(tmp_path):
    (tmp_path / 'dump_dsb_state.py').write_text(DUMP_HOOK)
    config = tmp_path / 'dsb_digits_2ranks.py'
    config.write_text(f"""
_base_ = ['{ROOT}/configs/demo/dsb_lenet5_digits-lt.py']
custom_imports = dict(imports=['mmdsb', 'dump_dsb_state'])
custom_hooks = [
    dict(type='DSBHook', warmup_epochs=1),
    dict(type='DumpDSBState', out_dir='{tmp_path}'),
]
train_cfg = dict(max_epochs=3, val_interval=3)
param_scheduler = dict(end=3)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
""")
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), str(config), '2',
         '--work-dir', str(tmp_path / 'work')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    # One epoch of the 342 training images, gathered from both ranks.
    assert rank0['labels'].numel() == 342
    assert rank0['stage'] == rank1['stage'] == 3
    for key in ('feats', 'labels', 'weights', 'fc'):
        assert torch.equal(rank0[key], rank1[key]), key
    # Both ranks' batches entered the bank, not only the local ones.
    counts = torch.bincount(rank0['labels'], minlength=10)
    assert counts.tolist() == [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]
