"""DSBHook in real mmengine Runners on the long-tailed digits."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb  # noqa: F401
from mmdsb.engine import DSBHook

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(ROOT, 'configs', 'demo', 'ce_lenet5_digits-lt.py')
N_TRAIN, BATCH = 342, 32  # DigitsLT with rho = 50
ITERS_PER_EPOCH = -(-N_TRAIN // BATCH)


class Recorder(Hook):
    """Records the DSB stage and the bank size at every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.stages, self.sizes = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hook = next(h for h in runner.hooks if isinstance(h, DSBHook))
        self.stages.append(hook.weighter.stage)
        self.sizes.append(len(hook.weighter.bank))


class StopAfterEpoch(Hook):
    """Interrupts training after a given epoch (after its checkpoint)."""
    priority = 'LOWEST'

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def train(cfg, *hooks):
    """Build a Runner from ``cfg``, add test-only hooks, train."""
    runner = Runner.from_cfg(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner


def digits_cfg(work_dir, max_epochs=4, warmup_epochs=2, **hook_kwargs):
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(work_dir)
    # No random augmentation, so that an interrupted run can match exactly.
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                         val_interval=100)
    cfg.param_scheduler = dict(type='LinearLR', start_factor=1.0,
                               end_factor=0.1, by_epoch=True, begin=0,
                               end=max_epochs)
    cfg.custom_hooks = [
        dict(type='DSBHook', warmup_epochs=warmup_epochs, **hook_kwargs)
    ]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    return cfg


def test_epoch_stages_and_bank_life_cycle(tmp_path):
    recorder = Recorder()
    cfg = digits_cfg(tmp_path, max_epochs=4, warmup_epochs=2)
    runner = train(cfg, recorder)
    n = ITERS_PER_EPOCH
    assert recorder.stages == [1] * n + [2] * n + [3] * 2 * n
    # Epoch 1 fills the bank with every training sample once; afterwards
    # each batch replaces as many of the oldest samples.
    assert recorder.sizes[n - 1] == N_TRAIN
    assert set(recorder.sizes[n:]) == {N_TRAIN}
    assert recorder.sizes[0] == BATCH
    bank = runner.model.head.dsb_weighter.bank
    assert bank.counts.tolist() == [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]
    ckpt = torch.load(osp.join(tmp_path, 'epoch_4.pth'), weights_only=True)
    assert ckpt['dsb_bank']['bank']['feats'].shape == (N_TRAIN, 64)
    assert osp.exists(osp.join(runner.log_dir, 'dsb_semantic_scales.json'))


def test_iteration_based_stages(tmp_path):
    recorder = Recorder()
    cfg = digits_cfg(tmp_path)
    cfg.custom_hooks[0] = dict(type='DSBHook', warmup_iters=20)
    cfg.train_cfg = dict(by_epoch=False, max_iters=30, val_interval=1000)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1000, by_epoch=False)
    train(cfg, recorder)
    n = ITERS_PER_EPOCH  # 11
    assert recorder.stages == [1] * n + [2] * (20 - n) + [3] * 10
    # Capacity is one epoch of samples; 11 batches of 32 overfill it.
    assert recorder.sizes[n - 2] == (n - 1) * BATCH
    assert set(recorder.sizes[n - 1:]) == {N_TRAIN}


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    Runner.from_cfg(digits_cfg(tmp_path / 'full', warmup_epochs=1)).train()
    cut = digits_cfg(tmp_path / 'cut', warmup_epochs=1)
    with pytest.raises(KeyboardInterrupt):
        train(cut, StopAfterEpoch(2))
    resumed = digits_cfg(tmp_path / 'cut', warmup_epochs=1)
    resumed.resume = True
    resumed.load_from = str(tmp_path / 'cut' / 'epoch_2.pth')
    Runner.from_cfg(resumed).train()
    full = torch.load(tmp_path / 'full' / 'epoch_4.pth', weights_only=True)
    again = torch.load(tmp_path / 'cut' / 'epoch_4.pth', weights_only=True)
    for key, value in full['state_dict'].items():
        assert torch.equal(value, again['state_dict'][key]), key
    for a, b in zip(full['dsb_bank']['bank'].values(),
                    again['dsb_bank']['bank'].values()):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))


def test_resume_rejects_a_bank_of_another_capacity(tmp_path):
    Runner.from_cfg(digits_cfg(tmp_path, max_epochs=1)).train()
    cfg = digits_cfg(tmp_path, max_epochs=2)
    cfg.train_dataloader.dataset.imbalance_ratio = 10  # other training set
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'epoch_1.pth')
    with pytest.raises(ValueError, match='capacity=342'):
        Runner.from_cfg(cfg).train()


def test_num_classes_mismatch_and_missing_head(tmp_path):
    cfg = digits_cfg(tmp_path, num_classes=12)
    with pytest.raises(ValueError, match='num_classes=12'):
        Runner.from_cfg(cfg).train()
    cfg = digits_cfg(tmp_path)
    cfg.model.head.type = 'LinearClsHead'
    with pytest.raises(RuntimeError, match='no DSB head'):
        Runner.from_cfg(cfg).train()


@pytest.mark.parametrize('kwargs,name', [(dict(warmup_epochs=0),
                                          'warmup_epochs'),
                                         (dict(warmup_iters=0),
                                          'warmup_iters')])
def test_bad_hook_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DSBHook(**kwargs)


def test_dsb_config_inherited_from_stock_mmpretrain_config(tmp_path):
    from fixtures import write_image_list
    data = tmp_path / 'data'
    write_image_list(str(data), [30, 20, 12, 8, 6, 5, 4, 3, 3, 2],
                     name='train.txt')
    write_image_list(str(data), [4] * 10, name='val.txt', seed=1)
    # What a user writes: a stock config plus the DSB pieces.
    (tmp_path / 'dsb_resnet18_cifar.py').write_text(f"""
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py',
          '{ROOT}/configs/_base_/dsb_runtime.py']
model = dict(head=dict(type='DSBLinearClsHead'))
custom_hooks = [dict(type='DSBHook', warmup_epochs=1)]
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
data = dict(type='CustomDataset', data_root='{data}', _delete_=True)
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data, ann_file='train.txt',
                                     pipeline=pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data, ann_file='val.txt',
                                   pipeline=pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2)
""")
    recorder = Recorder()
    cfg = Config.fromfile(str(tmp_path / 'dsb_resnet18_cifar.py'))
    cfg.work_dir = str(tmp_path / 'work')
    runner = train(cfg, recorder)
    assert type(runner.model.backbone).__name__ == 'ResNet_CIFAR'
    assert recorder.stages == [1] * 12 + [3] * 12
    weights = runner.model.head.dsb_weighter.class_weights()
    assert weights.mean().item() == pytest.approx(1.0)
    assert weights.max() > 1.2 * weights.min()


def test_hook_does_not_disturb_a_copied_model(tmp_path):
    cfg = digits_cfg(tmp_path, max_epochs=2, warmup_epochs=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    # The weighter is a plain attribute, not state: copies stay light.
    clone = copy.deepcopy(runner.model)
    assert 'dsb' not in ''.join(clone.state_dict().keys())
