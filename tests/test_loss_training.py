"""Every loss trains in a real Runner, plain and DSB; class counts and
epochs reach the losses through ClassCountsHook; the two-stage GCL configs
change only the classifier in stage 2."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb  # noqa: F401
from fixtures import write_cifar_pickles

# Slow: every loss trained through the Runner.
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DIGITS_COUNTS = (124, 80, 51, 33, 21, 14, 9, 5, 3, 2)  # rho = 50

HEADS = {
    'ClassBalancedLoss': ('LinearClsHead', dict(type='ClassBalancedLoss',
                                                gamma=1.0)),
    'LDAMLoss': ('CosineClsHead', dict(type='LDAMLoss', drw_epoch=1)),
    'BalancedSoftmaxLoss': ('LinearClsHead',
                            dict(type='BalancedSoftmaxLoss')),
    'LogitAdjustedLoss': ('LinearClsHead', dict(type='LogitAdjustedLoss')),
    'LADELoss': ('LinearClsHead', dict(type='LADELoss')),
    'NormSoftmaxLoss': ('CosineClsHead', dict(type='NormSoftmaxLoss')),
    'SoftTripleLoss': ('SoftTripleHead', dict(type='SoftTripleLoss')),
    'KPSLoss': ('CosineClsHead', dict(type='KPSLoss', ga_epoch=1)),
    'FBL': ('FBLClsHead', dict(type='CrossEntropyLoss')),
    'GCLLoss': ('CosineClsHead', dict(type='GCLLoss')),
}


def digits_cfg(head_type, loss, dsb, tmp_path, num_classes=10):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/demo/ce_lenet5_digits-lt.py'))
    cfg.work_dir = str(tmp_path)
    head = dict(type=('DSB' if dsb else '') + head_type,
                num_classes=num_classes, in_channels=120, loss=loss)
    if head_type == 'SoftTripleHead':
        head.update(num_centers=3)
    cfg.model.head = head
    cfg.custom_hooks = [
        dict(type='DSBHook', warmup_epochs=1,
             weighter=dict(type='SemanticScaleWeighter', alpha=2.0))
    ] if dsb else []
    cfg.default_hooks.class_counts = dict(type='ClassCountsHook')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10)
    cfg.train_dataloader.batch_size = 114  # 3 iterations per epoch
    cfg.train_cfg.update(max_epochs=2, val_interval=10)
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 0.01
    return cfg


def modules_with(model, attr):
    return [m for m in model.modules() if hasattr(m, attr)]


@pytest.mark.parametrize('dsb', [False, True], ids=['plain', 'dsb'])
@pytest.mark.parametrize('name', list(HEADS))
def test_loss_trains_in_runner(name, dsb, tmp_path):
    head_type, loss = HEADS[name]
    runner = Runner.from_cfg(digits_cfg(head_type, loss, dsb, tmp_path))
    before = copy.deepcopy(runner.model.head.state_dict())
    losses = []
    runner.register_hook(_Recorder(losses), 'LOWEST')
    runner.train()
    assert len(losses) == 6 and all(map(torch.isfinite, losses))
    after = runner.model.head.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # Counts reached every count-based module; epochs the epoch-aware ones.
    for m in modules_with(runner.model, 'set_class_counts'):
        assert m.class_counts.tolist() == list(DIGITS_COUNTS)
    for m in modules_with(runner.model, 'set_epoch'):
        assert (m.epoch, m.max_epochs) == (1, 2)
    if dsb:
        assert runner.model.head.dsb_weighter.stage == 3


class _Recorder(Hook):
    """Keeps the loss of every training iteration."""

    def __init__(self, out):
        self.out = out

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.out.append(outputs['loss'].detach())


def test_count_length_mismatch_is_a_clear_error(tmp_path):
    cfg = digits_cfg('LinearClsHead', dict(type='BalancedSoftmaxLoss'),
                     False, tmp_path, num_classes=9)
    cfg.data_preprocessor.num_classes = 9
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='10 class counts but '
                       'LinearClsHead has num_classes=9'):
        runner.train()


def test_without_the_hook_the_loss_names_it(tmp_path):
    cfg = digits_cfg('LinearClsHead', dict(type='BalancedSoftmaxLoss'),
                     False, tmp_path)
    cfg.default_hooks.pop('class_counts')
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        Runner.from_cfg(cfg).train()


def gcl_cfg(stage, root, work_dir, dsb=False):
    name = f'gcl_resnet32_cifar10-lt-r100_stage{stage}.py'
    cfg = Config.fromfile(osp.join(ROOT, 'configs/gcl',
                                   ('dsb-' if dsb else '') + name))
    cfg.work_dir = str(work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.update(data_root=root, imbalance_ratio=4)
        cfg[loader].update(batch_size=16, num_workers=0,
                           persistent_workers=False)
    cfg.train_cfg.update(max_epochs=2, val_interval=10)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    for hook in cfg.get('custom_hooks', []):
        hook.warmup_epochs = 1
    return cfg


def test_gcl_stage2_changes_only_the_classifier(tmp_path):
    root = write_cifar_pickles(str(tmp_path / 'cifar'), 10, 8, 1)
    stage1 = Runner.from_cfg(gcl_cfg(1, root, tmp_path / 's1'))
    stage1.train()
    ckpt = osp.join(str(tmp_path / 's1'), 'epoch_2.pth')
    trained = {k: v.clone() for k, v in stage1.model.state_dict().items()}

    cfg = gcl_cfg(2, root, tmp_path / 's2')
    assert cfg.train_dataloader.sampler.type == 'CBENSampler'
    cfg.load_from = ckpt
    stage2 = Runner.from_cfg(cfg)
    stage2.train()
    assert type(stage2.train_dataloader.sampler).__name__ == 'CBENSampler'
    final = stage2.model.state_dict()
    assert final.keys() == trained.keys()
    changed = {k for k in final if not torch.equal(final[k], trained[k])}
    # Backbone weights and BN statistics (buffers) stay; the cosine
    # classifier's weight moves.
    assert changed == {'head.weight'}
    assert not any(k.startswith('backbone') for k in changed)
    assert any(k.endswith('running_mean') for k in trained)
