"""The training state of Table 2's strongest methods through the real
Runner: DSB+RIDE's per-expert banks and the stage-2 router, DSB-PaCo's
queue and bank, DSB+MBJ's memory and bank are identical on two processes
(gloo, tools/dist_train.sh) and resume exactly on one."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

# Slow: training runs, two of them on two processes.
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
import compare_ride_banks  # noqa: E402

DIGITS_COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]

# Imported through custom_imports in the training processes: saves what
# each rank holds at the end of training.
DUMP_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from test_table2_training import training_state


@HOOKS.register_module()
class DumpTrainingState(Hook):
    priority = 'LOWEST'

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def after_train(self, runner):
        torch.save(training_state(runner.model),
                   f'{self.out_dir}/rank{get_rank()}.pt')
'''


def training_state(model) -> dict:
    """The model's parameters and buffers (queue, memory) and every DSB
    bank's rows, weights and stage."""
    from mmengine.model import is_model_wrapper

    from mmdsb.engine.dsb_banks import find_consumers
    model = model.module if is_model_wrapper(model) else model
    state = {k: v.detach().clone() for k, v in model.state_dict().items()
             if isinstance(v, torch.Tensor)}
    try:
        consumers = find_consumers(model)
    except RuntimeError:  # no DSB head (plain RIDE, the router)
        consumers = {}
    for name, consumer in consumers.items():
        weighter = consumer.dsb_weighter
        state[f'{name}/bank.feats'], state[f'{name}/bank.labels'] = \
            weighter.bank.ordered()
        state[f'{name}/weights'] = weighter.class_weights()
        state[f'{name}/stage'] = torch.tensor(int(weighter.stage))
    return state


BN_STATISTICS = ('running_mean', 'running_var', 'num_batches_tracked')


def assert_same_state(a: dict, b: dict, across_ranks=False) -> None:
    """Equal states; across ranks without the batch-norm statistics, which
    each rank gathers from its own batches (mmengine's data-parallel
    wrapper does not broadcast buffers) and only rank 0 saves."""
    assert sorted(a) == sorted(b)
    for key in a:
        if not (across_ranks and key.endswith(BN_STATISTICS)):
            assert torch.equal(a[key], b[key]), key


def assert_banks_hold_one_epoch(state: dict, names) -> None:
    """Each named consumer re-weights from one epoch of all 342 training
    images, both ranks' batches gathered."""
    for name in names:
        assert int(state[f'{name}/stage']) == 3, name
        assert torch.bincount(state[f'{name}/bank.labels']).tolist() == \
            DIGITS_COUNTS, name


class Args:
    epochs, work_dir = 2, ''


def ride_cfg(tmp_path, bank='per_expert'):
    """The digits RIDE of compare_ride_banks.py, two epochs, DSB from the
    second, a checkpoint every epoch."""
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


def digits_cfg(tmp_path, model: dict, pipeline=None):
    """The DSB digits demo (LeNet-5 features) with another model, two
    epochs, DSB from the second, a checkpoint every epoch."""
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'demo', 'dsb_lenet5_digits-lt.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model = model
    if pipeline is not None:
        cfg.train_dataloader.dataset.pipeline = pipeline
    cfg.default_hooks.class_counts = dict(type='ClassCountsHook')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.custom_hooks[0].warmup_epochs = 1
    cfg.param_scheduler.end = 3
    cfg.train_cfg.update(max_epochs=2, val_interval=3)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    return cfg


def paco_cfg(tmp_path):
    """DSB-PaCo on the digits: LeNet-5 query and key encoders, a queue of
    64 keys, two randomly cropped views."""
    view = [dict(type='RandomCrop', crop_size=32, padding=2)]
    return digits_cfg(
        tmp_path,
        dict(type='PaCoClassifier',
             backbone=dict(type='LeNet5', num_classes=-1),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='DSBPaCoHead', num_classes=10, in_channels=120,
                       loss=dict(type='PaCoLoss', alpha=0.05,
                                 temperature=0.2)),
             proj_dim=16, queue_size=64, momentum=0.9,
             data_preprocessor=dict(type='MultiViewClsDataPreprocessor',
                                    num_classes=10, mean=[77.85],
                                    std=[95.85], to_rgb=False)),
        pipeline=[
            dict(type='Resize', scale=(32, 32)),
            dict(type='MultiView', num_views=[1, 1],
                 transforms=[view, view]),
            dict(type='PackInputs'),
        ])


def mbj_cfg(tmp_path):
    """DSB+MBJ on the digits: a memory of 128 LeNet-5 features."""
    return digits_cfg(
        tmp_path,
        dict(type='ImageClassifier',
             backbone=dict(type='LeNet5'),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='DSBMBJLinearClsHead', num_classes=10,
                       in_channels=120, memory_size=128,
                       loss=dict(type='CrossEntropyLoss'))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(cfg, tmp_path, name):
    """Train ``cfg`` on two gloo processes; each rank's training state."""
    out = tmp_path / name
    out.mkdir()
    (tmp_path / 'dump_training_state.py').write_text(DUMP_HOOK)
    cfg.custom_imports = dict(imports=['mmdsb', 'dump_training_state'])
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='DumpTrainingState', out_dir=str(out))
    ]
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    cfg.dump(str(out / 'config.py'))
    tests = osp.join(ROOT, 'tests')
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(tmp_path), tests, ROOT]))
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
         str(out / 'config.py'), '2'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [torch.load(out / f'rank{r}.pt', weights_only=True)
            for r in (0, 1)]


def without_random_crops(transforms: list) -> list:
    """The pipeline without its random crops (nested views included): a
    resumed run restores the training state, not the random generator of
    the data pipeline."""
    kept = []
    for t in transforms:
        if t['type'] == 'RandomCrop':
            continue
        if 'transforms' in t:
            t = dict(t, transforms=[without_random_crops(v)
                                    for v in t['transforms']])
        kept.append(t)
    return kept


def train_whole_and_resumed(make_cfg, tmp_path):
    """Training states after two epochs in one go and after one epoch,
    then resumed from its checkpoint for the second (the same images in
    both: no random crops)."""

    def train(work, epochs, resume_from=None):
        cfg = make_cfg(tmp_path)
        dataset = cfg.train_dataloader.dataset
        dataset.pipeline = without_random_crops(dataset.pipeline)
        cfg.work_dir = str(tmp_path / work)
        cfg.train_cfg.max_epochs = epochs
        if resume_from:
            cfg.load_from, cfg.resume = resume_from, True
        runner = Runner.from_cfg(cfg)
        runner.train()
        return training_state(runner.model)

    whole = train('whole', 2)
    half = train('half', 1)
    resumed = train('resumed', 2, str(tmp_path / 'half' / 'epoch_1.pth'))
    return whole, half, resumed


# ---------------------------------------------------------------- RIDE
def test_ride_banks_and_router_are_the_same_on_two_ranks(tmp_path):
    rank0, rank1 = dist_train(ride_cfg(tmp_path), tmp_path, 'ride')
    assert_same_state(rank0, rank1, across_ranks=True)
    banks = [f'head.dsb_banks.{i}' for i in range(3)]
    assert_banks_hold_one_epoch(rank0, banks)
    # Each expert's bank holds its own features: the banks differ.
    assert not torch.equal(rank0[f'{banks[0]}/bank.feats'],
                           rank0[f'{banks[1]}/bank.feats'])

    stage1 = str(tmp_path / 'stage1' / 'epoch_2.pth')
    rank0, rank1 = dist_train(router_cfg(tmp_path, stage1, epochs=1),
                              tmp_path, 'router')
    ckpt = torch.load(stage1, weights_only=False)['state_dict']
    # The experts stay as stage 1 left them; the router trained,
    # identically on both ranks.
    assert torch.equal(rank0['head.weight'], ckpt['head.weight'])
    assert torch.equal(rank0['backbone.experts.0.0.0.conv1.weight'],
                       ckpt['backbone.experts.0.0.0.conv1.weight'])
    assert len([k for k in rank0 if k.startswith('head.router')]) == 6
    assert_same_state(rank0, rank1, across_ranks=True)


def test_router_resumes_exactly(tmp_path):
    stage1 = ride_cfg(tmp_path, bank=None)
    stage1.train_cfg.max_epochs = stage1.param_scheduler.end = 1
    Runner.from_cfg(stage1).train()
    ckpt = str(tmp_path / 'stage1' / 'epoch_1.pth')
    whole, half, resumed = train_whole_and_resumed(
        lambda p: router_cfg(p, ckpt), tmp_path)
    assert_same_state(whole, resumed)
    # The router trained in the second epoch; the experts did not.
    assert not torch.equal(whole['head.router_out.weight'],
                           half['head.router_out.weight'])
    assert torch.equal(whole['head.weight'], half['head.weight'])


# ---------------------------------------------------------------- PaCo
def test_paco_queue_and_bank_are_the_same_on_two_ranks(tmp_path):
    rank0, rank1 = dist_train(paco_cfg(tmp_path), tmp_path, 'paco')
    assert_same_state(rank0, rank1, across_ranks=True)
    assert_banks_hold_one_epoch(rank0, ['head'])
    # 684 keys (two epochs of 342) went through the 64 slots.
    assert int(rank0['queue_ptr']) == 684 % 64


def test_paco_resumes_exactly(tmp_path):
    whole, half, resumed = train_whole_and_resumed(paco_cfg, tmp_path)
    assert_same_state(whole, resumed)
    assert not torch.equal(whole['queue'], half['queue'])


# ----------------------------------------------------------------- MBJ
def test_mbj_memory_and_bank_are_the_same_on_two_ranks(tmp_path):
    rank0, rank1 = dist_train(mbj_cfg(tmp_path), tmp_path, 'mbj')
    assert_same_state(rank0, rank1, across_ranks=True)
    assert_banks_hold_one_epoch(rank0, ['head'])
    # The rarest classes entered the memory every time (p = 1).
    filled = int(rank0['head.memory.filled'])
    labels = rank0['head.memory.labels'][:filled]
    assert (labels == 9).sum() == 4  # 2 images x 2 epochs


def test_mbj_resumes_exactly(tmp_path):
    whole, half, resumed = train_whole_and_resumed(mbj_cfg, tmp_path)
    assert_same_state(whole, resumed)
    assert not torch.equal(whole['head.memory.feats'],
                           half['head.memory.feats'])
