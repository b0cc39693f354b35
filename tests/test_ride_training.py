"""RIDE's training state through the real Runner: DSB+RIDE's per-expert
banks and the stage-2 router are identical on two processes (gloo,
tools/dist_train.sh), and the router resumes exactly on one."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

# Slow: two training processes.
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
import compare_ride_banks  # noqa: E402

# Imported through custom_imports in the training processes: saves what
# each rank holds at the end of training.
DUMP_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpRIDEState(Hook):
    priority = 'LOWEST'

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def after_train(self, runner):
        model = runner.model
        head = (model.module if is_model_wrapper(model) else model).head
        state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        for i, bank in enumerate(getattr(head, 'dsb_banks', [])):
            feats, labels = bank.dsb_weighter.bank.ordered()
            state[f'bank{i}.feats'], state[f'bank{i}.labels'] = feats, labels
            state[f'bank{i}.weights'] = bank.dsb_weighter.class_weights()
            state[f'bank{i}.stage'] = torch.tensor(
                int(bank.dsb_weighter.stage))
        torch.save(state, f'{self.out_dir}/rank{get_rank()}.pt')
'''


class Args:
    epochs, work_dir = 2, ''


def ride_cfg(tmp_path, bank='per_expert'):
    """The digits RIDE of compare_ride_banks.py, two epochs, DSB from the
    second, the last checkpoint saved."""
    method = {None: 'RIDE', 'per_expert': 'DSB+RIDE (per expert)'}[bank]
    cfg = compare_ride_banks.build_cfg(method, 0, Args)
    cfg.work_dir = str(tmp_path / 'stage1')
    if bank is not None:
        cfg.custom_hooks[0].warmup_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    return cfg


def router_cfg(tmp_path, stage1_ckpt, epochs=2):
    """RIDE's stage 2 on the digits: the trained experts frozen, the router
    trained on class-balanced batches."""
    cfg = ride_cfg(tmp_path, bank=None)
    cfg.work_dir = str(tmp_path / 'router')
    cfg.load_from = stage1_ckpt
    cfg.model.backbone.frozen = True
    cfg.model.head.update(type='RIDERouterHead', top_choices=5,
                          pos_weight=10.0)
    cfg.train_dataloader.sampler = dict(type='ClassAwareSampler')
    # Linear decay that ends after the last epoch (at its end the rate
    # would be 0 and the last epoch would not train).
    cfg.param_scheduler.end = epochs + 1
    cfg.train_cfg.max_epochs = epochs
    return cfg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(cfg, tmp_path, name):
    """Train ``cfg`` on two gloo processes; each rank's head state."""
    out = tmp_path / name
    out.mkdir()
    cfg.custom_imports = dict(imports=['mmdsb', 'dump_ride_state'])
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='DumpRIDEState', out_dir=str(out))
    ]
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.dump(str(out / 'config.py'))
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
         str(out / 'config.py'), '2'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [torch.load(out / f'rank{r}.pt', weights_only=True)
            for r in (0, 1)]


def test_two_ranks_hold_the_same_banks_and_router(tmp_path):
    (tmp_path / 'dump_ride_state.py').write_text(DUMP_HOOK)
    rank0, rank1 = dist_train(ride_cfg(tmp_path), tmp_path, 'ride')
    assert sorted(rank0) == sorted(rank1)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    for i in range(3):
        # Every expert's bank re-weights, from one epoch of all 342
        # training images, both ranks' batches gathered.
        assert int(rank0[f'bank{i}.stage']) == 3
        assert torch.bincount(rank0[f'bank{i}.labels']).tolist() == [
            124, 80, 51, 33, 21, 14, 9, 5, 3, 2]
    # Each expert's bank holds its own features: the banks differ.
    assert not torch.equal(rank0['bank0.feats'], rank0['bank1.feats'])

    stage1 = str(tmp_path / 'stage1' / 'epoch_2.pth')
    rank0, rank1 = dist_train(router_cfg(tmp_path, stage1, epochs=1),
                              tmp_path, 'router')
    ckpt = torch.load(stage1, weights_only=False)['state_dict']
    # The experts' classifiers stay as stage 1 left them; the router
    # trained, identically on both ranks.
    assert torch.equal(rank0['weight'], ckpt['head.weight'])
    router = [k for k in rank0 if k.startswith('router')]
    assert len(router) == 2 * 2 + 2
    for key in router:
        assert torch.equal(rank0[key], rank1[key]), key


def test_router_resumes_exactly(tmp_path):
    stage1 = ride_cfg(tmp_path, bank=None)
    stage1.train_cfg.max_epochs = stage1.param_scheduler.end = 1
    Runner.from_cfg(stage1).train()
    ckpt = str(tmp_path / 'stage1' / 'epoch_1.pth')

    def train(work, resume=False, epochs=2):
        cfg = router_cfg(tmp_path, ckpt, epochs=2)
        cfg.work_dir = str(tmp_path / work)
        cfg.train_cfg.max_epochs = epochs
        if resume:
            cfg.load_from = str(tmp_path / 'half' / 'epoch_1.pth')
            cfg.resume = True
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner.model.head.state_dict()

    whole = train('whole')
    half = train('half', epochs=1)
    resumed = train('resumed', resume=True)
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    # The router trained in the second epoch; the experts did not.
    assert not torch.equal(whole['router_out.weight'],
                           half['router_out.weight'])
    assert torch.equal(whole['weight'], half['weight'])
