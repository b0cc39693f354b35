"""Real mmengine checkpoints load under torch's default ``weights_only``.

A tiny LeNet-5 classifier is trained with a real Runner on PNG files written
here; its checkpoints are then loaded by ``torch.load``, mmengine's
``load_checkpoint``, mmpretrain's ``init_model`` and a resumed Runner.
"""
import copy
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import torch

import mmdsb  # noqa: F401  (applies the allow-list)
from mmdsb import compat
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner, load_checkpoint
from mmpretrain.apis import init_model
from mmpretrain.registry import MODELS

PER_CLASS = 8       # images per class and split
BATCH = 4
ITERS_PER_EPOCH = 2 * PER_CLASS // BATCH


def write_split(root, split, seed):
    """Two classes of 32x32 grey images: dark noise and bright noise."""
    rng = np.random.default_rng(seed)
    for label in range(2):
        folder = osp.join(root, split, f'class{label}')
        os.makedirs(folder, exist_ok=True)
        for i in range(PER_CLASS):
            img = rng.integers(0, 60, (32, 32)) + 150 * label
            assert cv2.imwrite(osp.join(folder, f'{i}.png'),
                               img.astype(np.uint8))


def make_cfg(data_root, work_dir, name, max_epochs):
    pipeline = [
        dict(type='LoadImageFromFile', color_type='grayscale'),
        dict(type='PackInputs'),
    ]

    def loader(split, shuffle):
        return dict(
            batch_size=BATCH,
            num_workers=0,
            dataset=dict(
                type='CustomDataset',
                data_root=data_root,
                data_prefix=split,
                pipeline=pipeline),
            sampler=dict(type='DefaultSampler', shuffle=shuffle))

    return Config(
        dict(
            default_scope='mmpretrain',
            # Distinct names keep the per-experiment MessageHub apart.
            experiment_name=name,
            work_dir=work_dir,
            model=dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='ClsDataPreprocessor',
                    num_classes=2,
                    mean=[127.5],
                    std=[127.5],
                    to_rgb=False),
                backbone=dict(type='LeNet5'),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=2,
                    in_channels=120,
                    loss=dict(type='CrossEntropyLoss'),
                    topk=(1, ))),
            train_dataloader=loader('train', True),
            val_dataloader=loader('val', False),
            val_evaluator=dict(type='Accuracy', topk=(1, )),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
            param_scheduler=dict(
                type='MultiStepLR', milestones=[1], by_epoch=True,
                gamma=0.1),
            train_cfg=dict(
                by_epoch=True, max_epochs=max_epochs, val_interval=1),
            val_cfg=dict(),
            default_hooks=dict(
                timer=dict(type='IterTimerHook'),
                logger=dict(type='LoggerHook', interval=1),
                param_scheduler=dict(type='ParamSchedulerHook'),
                checkpoint=dict(type='CheckpointHook', interval=1,
                                save_best='auto'),
                sampler_seed=dict(type='DistSamplerSeedHook')),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=0),
            log_level='WARNING'))


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(actual, expected):
    assert actual.keys() == expected.keys()
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train two epochs; return the data root, checkpoint and final state."""
    root = str(tmp_path_factory.mktemp('compat'))
    data_root = osp.join(root, 'data')
    write_split(data_root, 'train', seed=0)
    write_split(data_root, 'val', seed=1)
    cfg = make_cfg(data_root, osp.join(root, 'train'), 'compat_train', 2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(root, 'train', 'epoch_2.pth')
    assert osp.isfile(ckpt)
    return dict(
        root=root,
        data_root=data_root,
        ckpt=ckpt,
        state=state_of(runner.model),
        losses=runner.message_hub.get_scalar('train/loss').data[0].copy())


def test_allow_list_is_installed_once():
    registered = torch.serialization.get_safe_globals()
    assert HistoryBuffer in registered
    assert (compat._history_buffer_getattr, 'builtins.getattr') in registered
    assert (np.core.multiarray._reconstruct,
            'numpy.core.multiarray._reconstruct') in registered
    assert type(np.dtype(np.float64)) in registered
    compat._APPLIED = False
    compat.allow_mmengine_checkpoints()
    assert len(torch.serialization.get_safe_globals()) == len(registered)


def test_default_torch_load_reads_runner_checkpoint(trained):
    ckpt = torch.load(trained['ckpt'])
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['meta']['iter'] == 2 * ITERS_PER_EPOCH
    assert ckpt['meta']['dataset_meta']['classes'] == ('class0', 'class1')
    assert_same_state(ckpt['state_dict'], trained['state'])

    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    losses, counts = buffer.data
    np.testing.assert_array_equal(losses, trained['losses'])
    assert len(losses) == 2 * ITERS_PER_EPOCH
    assert counts.dtype == np.int64 and counts.sum() == 2 * ITERS_PER_EPOCH
    # The statistics methods come back through the restricted getattr.
    assert buffer.statistics('mean') == pytest.approx(losses.mean())
    assert buffer.statistics('max') == pytest.approx(losses.max())
    # MultiStepLR state (milestones Counter) survives as well.
    assert ckpt['param_schedulers'][0]['milestones'] == {1: 1}


def test_best_checkpoint_loads(trained):
    work_dir = osp.join(trained['root'], 'train')
    best = [
        f for f in os.listdir(work_dir) if f.startswith('best_accuracy_top1')
    ]
    assert len(best) == 1
    ckpt = torch.load(osp.join(work_dir, best[0]))
    assert ckpt['message_hub']['runtime_info']['best_score'] == 100.0


class _Opaque:
    """A class no allow-list knows about."""


class _Getattr:
    """Pickles as ``getattr(obj, name)``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


def test_weights_only_stays_strict(tmp_path):
    path = str(tmp_path / 'opaque.pth')
    torch.save({'x': _Opaque()}, path)
    with pytest.raises(pickle.UnpicklingError, match='_Opaque'):
        torch.load(path)


def test_getattr_limited_to_history_buffer_functions(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save(_Getattr(HistoryBuffer, 'mean'), path)
    assert torch.load(path) is HistoryBuffer.mean

    for obj, name in [(HistoryBuffer, '_statistics_methods'),
                      (HistoryBuffer, '__class__'),
                      (np.ndarray, 'tofile')]:
        torch.save(_Getattr(obj, name), path)
        with pytest.raises(pickle.UnpicklingError, match='Refusing getattr'):
            torch.load(path)


def test_mmengine_and_mmpretrain_loaders(trained):
    cfg = make_cfg(trained['data_root'], trained['root'], 'unused', 2)
    model = MODELS.build(cfg.model)
    checkpoint = load_checkpoint(model, trained['ckpt'], map_location='cpu')
    assert checkpoint['meta']['epoch'] == 2
    assert_same_state(state_of(model), trained['state'])

    model = init_model(cfg, trained['ckpt'], device='cpu')
    assert_same_state(state_of(model), trained['state'])
    assert model._dataset_meta['classes'] == ('class0', 'class1')


class _Recorder(Hook):
    """Keeps what the runner holds right after loading the checkpoint."""

    def before_train(self, runner):
        self.epoch, self.iter = runner.epoch, runner.iter
        self.state = state_of(runner.model)
        self.loss_count = len(
            runner.message_hub.get_scalar('train/loss').data[0])
        self.lr = runner.optim_wrapper.get_lr()['lr'][0]
        self.optim_state = copy.deepcopy(
            runner.optim_wrapper.state_dict()['state'])


def test_resume_continues_training(trained):
    saved = torch.load(trained['ckpt'])
    work_dir = osp.join(trained['root'], 'resume')
    cfg = make_cfg(trained['data_root'], work_dir, 'compat_resume', 3)
    cfg.resume = True
    cfg.load_from = trained['ckpt']
    runner = Runner.from_cfg(cfg)
    recorder = _Recorder()
    runner.register_hook(recorder)
    runner.train()

    assert (recorder.epoch, recorder.iter) == (2, 2 * ITERS_PER_EPOCH)
    assert_same_state(recorder.state, trained['state'])
    assert recorder.loss_count == 2 * ITERS_PER_EPOCH
    # MultiStepLR (milestone 1, gamma 0.1) had already decayed the lr.
    assert recorder.lr == pytest.approx(0.005)
    for idx, param_state in saved['optimizer']['state'].items():
        assert torch.equal(recorder.optim_state[idx]['momentum_buffer'],
                           param_state['momentum_buffer'])

    assert (runner.epoch, runner.iter) == (3, 3 * ITERS_PER_EPOCH)
    resumed = torch.load(osp.join(work_dir, 'epoch_3.pth'))
    assert resumed['meta']['epoch'] == 3
    assert resumed['meta']['iter'] == 3 * ITERS_PER_EPOCH
    losses = resumed['message_hub']['log_scalars']['train/loss'].data[0]
    assert len(losses) == 3 * ITERS_PER_EPOCH
    np.testing.assert_array_equal(losses[:2 * ITERS_PER_EPOCH],
                                  trained['losses'])
    # The third epoch changed the weights.
    assert not torch.equal(resumed['state_dict']['head.fc.weight'],
                           trained['state']['head.fc.weight'])
