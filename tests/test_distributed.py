"""Two CPU processes (gloo) through tools/dist_train.sh hold the same bank
and compute the same class weights."""
import os
import os.path as osp
import socket
import subprocess

import pytest
import torch

# Slow: training on two and three processes (gloo).
pytestmark = pytest.mark.slow

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
            dict(feats=feats, labels=labels, stage=int(weighter.stage),
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


# Saves rank 0's bank after a resumed run restored it and at the end.
DUMP_BANKS_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpBanks(Hook):
    priority = 'LOWEST'

    def __init__(self, out):
        self.out, self.banks = out, {}

    def _bank(self, runner):
        bank = runner.model.module.head.dsb_weighter.bank
        feats, labels = bank.ordered()
        return dict(feats=feats, labels=labels, capacity=bank.capacity)

    def before_train_epoch(self, runner):
        self.banks.setdefault('start', self._bank(runner))

    def after_train(self, runner):
        if get_rank() == 0:
            torch.save(dict(self.banks, end=self._bank(runner)), self.out)
'''


def dist_train(tmp_path, name, procs, *args):
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
         str(tmp_path / f'{name}.py'), str(procs), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return torch.load(tmp_path / f'{name}.pt', weights_only=True)


def match_rows(ref, other):
    """Index into ``ref`` of every row of ``other``: a bijection of rows
    equal up to float rounding (batches of other sizes may round the
    same sample's features differently in the last bits)."""
    dist = torch.cdist(other['feats'].double(), ref['feats'].double())
    idx = dist.argmin(dim=1)
    assert torch.equal(idx.sort().values, torch.arange(len(idx)))
    assert dist[torch.arange(len(idx)), idx].max() < 1e-4
    assert torch.equal(ref['labels'][idx], other['labels'])
    return idx


def test_resume_on_one_and_three_processes_keeps_the_bank(tmp_path):
    """A 2-process run on 349 samples (the sampler pads the epoch to 350,
    on 3 processes to 351) resumes from its epoch-1 checkpoint on 1 and on
    3 processes. With the learning rate at 0, every sample has the same
    feature in all runs, so the banks compare entry by entry: after epoch
    2 the resumed runs (and an iteration-based 2-process run) hold what
    the uninterrupted run holds, each sample once, in the epoch's order up
    to the order of one iteration's entries (gathered rank by rank)."""
    (tmp_path / 'dump_banks.py').write_text(DUMP_BANKS_HOOK)
    for name in ('full', 'on1', 'on3', 'iters'):
        (tmp_path / f'{name}.py').write_text(f"""
_base_ = ['{ROOT}/configs/demo/dsb_lenet5_digits-lt.py']
custom_imports = dict(imports=['mmdsb', 'dump_banks'])
custom_hooks = [
    dict(type='DSBHook', warmup_epochs=1),
    dict(type='DumpBanks', out='{tmp_path}/{name}.pt'),
]
train_dataloader = dict(
    dataset=dict(imbalance_ratio=45, pipeline={{{{_base_.test_pipeline}}}}),
    sampler=dict(seed=0))
optim_wrapper = dict(optimizer=dict(lr=0.0, momentum=0.0))
train_cfg = dict(max_epochs=2, val_interval=3)
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
""")
    full = dist_train(tmp_path, 'full', 2, '--work-dir',
                      str(tmp_path / 'work'))
    n, counts = 349, [124, 81, 53, 34, 22, 14, 9, 6, 4, 2]
    end = full['end']
    assert end['capacity'] == n and len(end['labels']) == n
    ckpt = str(tmp_path / 'work' / 'epoch_1.pth')
    for name, procs in (('on1', 1), ('on3', 3)):
        resumed = dist_train(tmp_path, name, procs, '--work-dir',
                             str(tmp_path / name), '--resume', ckpt)
        # Restored as saved by the 2-process run.
        start = torch.load(ckpt, weights_only=False)['dsb_bank']['bank']
        assert torch.equal(resumed['start']['feats'], start['feats'])
        assert torch.equal(resumed['start']['labels'], start['labels'])
        idx = match_rows(end, resumed['end'])
        # After epoch 2 a bank holds that epoch in the order it entered.
        # One process pushes the epoch's samples in order; w processes push
        # them in iterations of 32 w samples, each gathered rank by rank.
        if procs == 1:
            position = torch.empty(n, dtype=torch.long)
            position[idx] = torch.arange(n)  # of each of full's entries
            assert torch.equal(idx // 64, torch.arange(n) // 64)
        else:
            assert torch.equal(position[idx] // 96, torch.arange(n) // 96)
    assert torch.bincount(end['labels'], minlength=10).tolist() == counts
    # Iteration-based on 2 processes: 2 epochs of 6 iterations, the padded
    # repeat of each epoch's end kept out as well.
    with open(tmp_path / 'iters.py', 'a') as f:
        f.write("train_cfg = dict(_delete_=True, by_epoch=False, "
                "max_iters=12, val_interval=100)\n"
                "default_hooks = dict(checkpoint=dict(by_epoch=False, "
                "interval=100))\n")
    iters = dist_train(tmp_path, 'iters', 2, '--work-dir',
                       str(tmp_path / 'iters'))
    idx = match_rows(end, iters['end'])
    assert torch.equal(position[idx] // 64, torch.arange(n) // 64)


# Saves what each rank's per-sample bank holds at the start of its first
# epoch and at the end, with the training labels by dataset index.
DUMP_SAMPLE_BANK_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpSampleBank(Hook):
    priority = 'LOWEST'

    def __init__(self, out):
        self.out, self.start = out, None

    def _bank(self, runner):
        bank = runner.model.module.head.dsb_weighter.bank
        feats, labels = bank.ordered()
        return dict(keys=bank.keys(), feats=feats, labels=labels,
                    weights=runner.model.module.head.dsb_weighter
                    .class_weights(record=False))

    def before_train_epoch(self, runner):
        if self.start is None:
            self.start = self._bank(runner)

    def after_train(self, runner):
        dataset = runner.train_dataloader.dataset
        truth = torch.tensor([dataset.get_data_info(i)['gt_label']
                              for i in range(len(dataset))])
        torch.save(dict(start=self.start, end=self._bank(runner),
                        truth=truth), f'{self.out}.rank{get_rank()}.pt')
'''


def test_per_sample_bank_on_two_ranks_and_resumed_on_one(tmp_path):
    """349 samples on 2 processes (DefaultSampler pads the epoch to 350):
    each rank's per-sample bank holds every sample once, the same on both
    ranks; resumed on one process from the epoch-1 checkpoint it holds the
    same samples with the same features (learning rate 0)."""
    (tmp_path / 'dump_sample_bank.py').write_text(DUMP_SAMPLE_BANK_HOOK)
    for name in ('two', 'one'):
        (tmp_path / f'{name}.py').write_text(f"""
_base_ = ['{ROOT}/configs/demo/dsb_lenet5_digits-lt.py']
custom_imports = dict(imports=['mmdsb', 'dump_sample_bank'])
custom_hooks = [
    dict(type='DSBHook', warmup_epochs=1, bank_policy='per_sample'),
    dict(type='DumpSampleBank', out='{tmp_path}/{name}'),
]
train_dataloader = dict(
    dataset=dict(imbalance_ratio=45, pipeline={{{{_base_.test_pipeline}}}}))
optim_wrapper = dict(optimizer=dict(lr=0.0, momentum=0.0))
train_cfg = dict(max_epochs=2, val_interval=3)
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
""")
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{ROOT}')
    for name, procs, args in (
            ('two', 2, []),
            ('one', 1, ['--resume', str(tmp_path / 'two' / 'epoch_1.pth')])):
        proc = subprocess.run(
            ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
             str(tmp_path / f'{name}.py'), str(procs), '--work-dir',
             str(tmp_path / name), *args],
            cwd=ROOT, env=dict(env, PORT=str(free_port())),
            capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, \
            proc.stdout[-3000:] + proc.stderr[-3000:]
    n = 349
    rank0, rank1 = [
        torch.load(tmp_path / f'two.rank{r}.pt', weights_only=True)
        for r in (0, 1)
    ]
    one = torch.load(tmp_path / 'one.rank0.pt', weights_only=True)
    for key in ('keys', 'feats', 'labels', 'weights'):
        assert torch.equal(rank0['end'][key], rank1['end'][key]), key
    assert torch.equal(rank0['end']['keys'], torch.arange(n))
    assert torch.equal(rank0['end']['labels'], rank0['truth'])
    # The resumed run starts from the 2-process bank and, keyed by sample,
    # ends with the same rows.
    saved = torch.load(tmp_path / 'two' / 'epoch_1.pth',
                       weights_only=False)['dsb_bank']['bank']
    assert torch.equal(one['start']['keys'], saved['keys'])
    assert torch.equal(one['start']['feats'], saved['feats'])
    assert torch.equal(one['end']['keys'], torch.arange(n))
    assert torch.equal(one['end']['labels'], rank0['truth'])
    assert torch.allclose(one['end']['feats'], rank0['end']['feats'],
                          atol=1e-5)
    assert torch.allclose(one['end']['weights'], rank0['end']['weights'],
                          atol=1e-5)
