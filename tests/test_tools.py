"""End-to-end runs of tools/train.py, tools/test.py and the dist_* scripts.

The scripts run as subprocesses, exactly as from the command line, on a
two-class folder dataset of PNG files written here. The distributed runs use
two CPU processes (gloo), which is what CI machines without GPUs exercise.
"""
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import mmdsb  # noqa: F401  (checkpoints below load with weights_only)

# Slow: tools/train.py, test.py and the dist scripts end to end.
pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PER_CLASS = 8       # images per class and split
BATCH = 4

CONFIG = """
default_scope = 'mmpretrain'
data_root = {data_root!r}
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=2,
                           mean=[127.5], std=[127.5], to_rgb=False),
    backbone=dict(type='LeNet5'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=120,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )))
pipeline = [dict(type='LoadImageFromFile', color_type='grayscale'),
            dict(type='PackInputs')]
train_dataloader = dict(
    batch_size={batch}, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='train', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size={batch}, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 data_prefix='val', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
"""


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    """Config file over two classes of grey images (dark vs bright)."""
    root = tmp_path_factory.mktemp('tools')
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for label in range(2):
            folder = root / 'data' / split / f'class{label}'
            folder.mkdir(parents=True)
            for i in range(PER_CLASS):
                img = rng.integers(0, 60, (32, 32)) + 150 * label
                assert cv2.imwrite(str(folder / f'{i}.png'),
                                   img.astype(np.uint8))
    path = root / 'tiny_lenet.py'
    path.write_text(
        CONFIG.format(data_root=str(root / 'data'), batch=BATCH))
    return str(path)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def run(cmd, timeout=120, **env):
    full_env = dict(
        os.environ,
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
        PYTHON=sys.executable,
        MPLBACKEND='Agg',
        OMP_NUM_THREADS='1',
        **env)
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def test_train_then_test(config, tmp_path):
    work_dir = str(tmp_path / 'train')
    log = run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir
    ])
    iters = 2 * PER_CLASS // BATCH
    assert f'Epoch(train) [2][{iters}/{iters}]' in log
    assert 'Epoch(val) [2][4/4]    accuracy/top1: 100.0000' in log
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    assert osp.isfile(ckpt)
    assert torch.load(ckpt)['meta']['iter'] == 2 * iters

    # --resume without a path continues from the latest checkpoint.
    log = run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--resume', '--cfg-options', 'train_cfg.max_epochs=3'
    ])
    assert f'resumed epoch: 2, iter: {2 * iters}' in log
    assert f'Epoch(train) [3][{iters}/{iters}]' in log
    assert torch.load(osp.join(work_dir, 'epoch_3.pth'))['meta']['iter'] == (
        3 * iters)

    out = str(tmp_path / 'metrics.json')
    log = run([
        sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
        str(tmp_path / 'test'), '--out', out, '--out-item', 'metrics'
    ])
    assert 'Epoch(test) [4/4]    accuracy/top1: 100.0000' in log
    with open(out) as f:
        assert json.load(f) == {'accuracy/top1': 100.0}


def test_test_rejects_missing_checkpoint(config, tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', config,
         str(tmp_path / 'missing.pth')],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60)
    assert proc.returncode != 0
    assert 'checkpoint not found' in proc.stderr


def test_dist_train_and_test_on_two_cpu_processes(config, tmp_path):
    work_dir = str(tmp_path / 'dist')
    log = run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
               work_dir], PORT=free_port())
    assert 'Distributed training: True' in log
    # Each of the two ranks gets half of the 16 images: 2 iterations.
    assert 'Epoch(train) [2][2/2]' in log
    assert 'Epoch(val) [2][2/2]    accuracy/top1: 100.0000' in log
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    meta = torch.load(ckpt)['meta']
    assert (meta['epoch'], meta['iter']) == (2, 4)

    out = str(tmp_path / 'pred.pkl')
    log = run(['bash', 'tools/dist_test.sh', config, ckpt, '2',
               '--work-dir', str(tmp_path / 'dist_test'), '--out', out],
              PORT=free_port())
    assert 'Epoch(test) [2/2]    accuracy/top1: 100.0000' in log
    # Predictions of both ranks are gathered: all 16 validation images.
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2 * PER_CLASS
    assert sorted(p['sample_idx'] for p in preds) == list(
        range(2 * PER_CLASS))
