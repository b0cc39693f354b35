"""DSBHook in real mmengine Runners on the long-tailed digits."""
import copy
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb  # noqa: F401
from mmdsb.engine import DSBHook

# Slow: DSBHook through real Runners, several epochs each.
pytestmark = pytest.mark.slow

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
    # A logger of its own: runners built within the same second otherwise
    # share one (named by the timestamp), with the first one's file.
    cfg.experiment_name = f'dsb_hook_{uuid.uuid4().hex}'
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
    with pytest.raises(ValueError, match='capacity=342 but this bank has '
                       'capacity=503: the capacity is the number of distinct '
                       'samples in one epoch.*training set changed'):
        Runner.from_cfg(cfg).train()


def read_log(runner) -> str:
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def test_resume_without_a_saved_bank_fills_it_again(tmp_path):
    Runner.from_cfg(digits_cfg(tmp_path, max_epochs=1)).train()
    # A checkpoint of a run without DSB: the same, less the bank.
    ckpt = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    del ckpt['dsb_bank']
    torch.save(ckpt, tmp_path / 'plain.pth')
    recorder = Recorder()
    cfg = digits_cfg(tmp_path / 'resumed', max_epochs=3, warmup_epochs=1)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'plain.pth')
    runner = train(cfg, recorder)
    n = ITERS_PER_EPOCH
    # Epoch 2 grows the empty bank to one epoch, without evicting; epoch 3
    # re-weights from the full bank.
    assert recorder.sizes[:n] == [min(BATCH * (i + 1), N_TRAIN)
                                  for i in range(n)]
    assert recorder.stages == [1] * n + [3] * n
    log = read_log(runner)
    assert log.count('the checkpoint has no feature bank') == 1
    assert 'stage 1 starts at epoch 2, iteration 12' in log
    assert 'stage 3 starts at epoch 3, iteration 23' in log


def test_bank_grows_until_full_even_in_later_stages(tmp_path):
    # A bank set up below capacity in stage 2 grows instead of evicting.
    cfg = digits_cfg(tmp_path, max_epochs=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    weighter = runner.model.head.dsb_weighter
    weighter.init_bank(100, 10, torch.device('cpu'))
    weighter.stage = 2
    for i in range(4):
        weighter.observe(torch.randn(32, 120), torch.arange(32) % 10)
    assert len(weighter.bank) == 100
    assert weighter.bank.counts.sum().item() == 100


def test_repeated_augmentation_sampler_keeps_one_epoch(tmp_path):
    # RepeatAugSampler reports three times the samples it yields.
    recorder = Recorder()
    cfg = digits_cfg(tmp_path, max_epochs=2, warmup_epochs=1)
    cfg.train_dataloader.sampler = dict(type='RepeatAugSampler',
                                        shuffle=True)
    runner = train(cfg, recorder)
    n = ITERS_PER_EPOCH
    assert runner.model.head.dsb_weighter.bank.capacity == N_TRAIN
    assert recorder.stages == [1] * n + [3] * n
    assert recorder.sizes[n - 1] == N_TRAIN


def test_summary_names_classes_beyond_the_dataset(tmp_path):
    # A head with more classes than the dataset names (12 vs. 10).
    cfg = digits_cfg(tmp_path, max_epochs=3, warmup_epochs=1)
    cfg.model.head.num_classes = 12
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    import json
    with open(osp.join(runner.log_dir, 'dsb_semantic_scales.json')) as f:
        table = json.load(f)
    assert table['classes'] == [str(i) for i in range(12)]
    assert table['count'][10:] == [0, 0]
    # The two empty classes have no scale at every re-weighted iteration:
    # each of epochs 2 and 3 has 11, and the summary's own table does not
    # count as one.
    log = read_log(runner)
    assert log.count(f'since the last summary: {ITERS_PER_EPOCH} '
                     're-weighted iterations had classes without') == 2


def test_empty_training_set_is_named(tmp_path):
    from fixtures import write_image_list
    data = tmp_path / 'data'
    write_image_list(str(data), [2, 2], name='val.txt')
    (data / 'train.txt').write_text('')
    cfg = digits_cfg(tmp_path)
    # (mmengine's serialisation of a dataset fails on an empty list before
    # any hook runs; without it, DSBHook names the problem.)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=str(data), ann_file='train.txt',
        serialize_data=False,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    with pytest.raises(ValueError, match='the training set '
                       r"\(CustomDataset \(ann_file '.*train.txt'"):
        Runner.from_cfg(cfg).train()


@pytest.mark.parametrize('serialize', [True, False])
def test_training_set_emptied_by_indices_is_named(tmp_path, serialize):
    # With serialisation (mmengine's default) the dataset fails while it is
    # built, before any hook runs.
    cfg = digits_cfg(tmp_path)
    cfg.train_dataloader.dataset.indices = 0
    cfg.train_dataloader.dataset.serialize_data = serialize
    with pytest.raises(ValueError, match=r'DigitsLT \(.*indices 0.*\) '
                       '(holds no samples|is empty)'):
        Runner.from_cfg(cfg).train()


def test_bank_smaller_than_a_batch_is_an_error(tmp_path):
    # Each batch would be cut to its last 10 rows, silently.
    cfg = digits_cfg(tmp_path, max_epochs=1, capacity=10)
    with pytest.raises(ValueError, match='one iteration brings 32 samples '
                       r'\(all ranks\) but the DSB feature bank holds only '
                       '10'):
        Runner.from_cfg(cfg).train()


def test_out_of_range_label_names_the_image(tmp_path):
    from fixtures import write_image_list
    data = tmp_path / 'data'
    # Eleven folders for a ten-class head: label 10 is out of range.
    write_image_list(str(data), [3] * 10 + [1], name='train.txt')
    cfg = digits_cfg(tmp_path)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=str(data), ann_file='train.txt',
        pipeline=[dict(type='LoadImageFromFile', color_type='grayscale'),
                  dict(type='PackInputs')])
    cfg.train_dataloader.batch_size = 31
    with pytest.raises(ValueError, match=r'\[0, 10\) of the head, got: '
                       r'\S+010/train_0000.png \(label 10\)'):
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


def test_model_copies_share_the_bank(tmp_path):
    cfg = digits_cfg(tmp_path, max_epochs=2, warmup_epochs=1)
    cfg.custom_hooks.append(dict(type='EMAHook'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    # EMAHook copied the model before DSBHook set up the bank.
    ema = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    assert ema.ema_model.module.head.dsb_weighter is None
    # The weighter is a plain attribute, not state, and a copy (EMA,
    # deepcopy) shares it: the pool is never duplicated.
    clone = copy.deepcopy(runner.model)
    assert 'dsb' not in ''.join(clone.state_dict().keys())
    weighter = runner.model.head.dsb_weighter
    assert clone.head.dsb_weighter is weighter
    assert clone.head.dsb_weighter.bank.feats.data_ptr() == \
        weighter.bank.feats.data_ptr()
    assert clone.head.fc.weight.data_ptr() != \
        runner.model.head.fc.weight.data_ptr()
    # A fresh copy has the settings and no pool.
    fresh = weighter.fresh_copy()
    assert fresh.bank is None and fresh.alpha == weighter.alpha
    assert weighter.bank is not None
