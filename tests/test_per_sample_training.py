"""DSBHook(bank_policy='per_sample') in real Runners on the long-tailed
digits: one entry per sample whatever the sampler, its keys in
checkpoints, and the stage rule."""
import os.path as osp

import pytest
import torch
from mmengine.dataset import ClassBalancedDataset
from mmengine.hooks import Hook
from mmengine.registry import DATASETS
from mmengine.runner import Runner
from test_dsb_hook import ITERS_PER_EPOCH, N_TRAIN, Recorder, digits_cfg

import mmdsb  # noqa: F401
from mmdsb.engine import DSBHook

# Slow: DSBHook through real Runners.
pytestmark = pytest.mark.slow

COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]  # DigitsLT, rho = 50


def per_sample_cfg(tmp_path, max_epochs=2, warmup_epochs=1):
    cfg = digits_cfg(tmp_path, max_epochs=max_epochs,
                     warmup_epochs=warmup_epochs, bank_policy='per_sample')
    # A learning rate of 0 keeps every sample's feature that of the
    # initial model, which the test computes on its own.
    cfg.optim_wrapper.optimizer.update(lr=0.0, momentum=0.0)
    cfg.param_scheduler = []
    return cfg


def pooled_by_hand(x: torch.Tensor, dim: int = 64) -> torch.Tensor:
    """Average pooling of the channels into ``dim`` bins, bin ``i``
    covering channels ``floor(i w / dim)`` to ``ceil((i + 1) w / dim)``."""
    w = x.shape[1]
    return torch.stack([
        x[:, i * w // dim:-(-(i + 1) * w // dim)].mean(1) for i in range(dim)
    ], 1)


def features_by_hand(runner, dataset) -> torch.Tensor:
    """The pre-logit feature of every sample of ``dataset``, in index
    order, through the model's own modules (not the bank), pooled to the
    bank's 64 channels."""
    model = runner.model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=[dataset[i]['inputs'] for i in range(len(dataset))]),
            False)
        pre = model.head.pre_logits(model.extract_feat(data['inputs']))
    return pooled_by_hand(pre)


class SampleRecorder(Hook):
    """The sample_idx of every training sample delivered."""
    priority = 'LOWEST'

    def __init__(self):
        self.indices = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.indices += [s.sample_idx for s in data_batch['data_samples']]


def labels_by_hand(dataset) -> torch.Tensor:
    return torch.tensor([dataset.get_data_info(i)['gt_label']
                         for i in range(len(dataset))])


def test_one_entry_per_sample_with_its_own_feature(tmp_path):
    recorder = Recorder()
    runner = Runner.from_cfg(per_sample_cfg(tmp_path))
    runner.register_hook(recorder)
    runner.train()
    bank = runner.model.head.dsb_weighter.bank
    # Filled after the first epoch (every sample once), re-weighting from
    # epoch 2 (warm-up 1); the size never exceeds the training set.
    assert recorder.stages == [1] * ITERS_PER_EPOCH + [3] * ITERS_PER_EPOCH
    assert recorder.sizes[ITERS_PER_EPOCH - 1] == N_TRAIN
    assert set(recorder.sizes[ITERS_PER_EPOCH:]) == {N_TRAIN}
    assert torch.equal(bank.keys(), torch.arange(N_TRAIN))
    assert bank.counts.tolist() == COUNTS
    dataset = runner.train_dataloader.dataset
    feats, labels = bank.ordered()
    assert torch.equal(labels, labels_by_hand(dataset))
    assert torch.allclose(feats, features_by_hand(runner, dataset),
                          atol=1e-5)
    # The checkpoint holds the keys with the rows.
    ckpt = torch.load(osp.join(tmp_path, 'epoch_2.pth'), weights_only=True)
    saved = ckpt['dsb_bank']['bank']
    assert torch.equal(saved['keys'], torch.arange(N_TRAIN))
    assert saved['filled'] is True


def test_repeat_factor_and_repeated_augmentation(tmp_path):
    """ClassBalancedDataset repeats rare images and RepeatAugSampler
    repeats every image three times (and an epoch takes a third of the
    repeated indices): each sample delivered has one slot, which a repeat
    overwrites, and the class counts are the distinct samples', not the
    repeats'."""
    cfg = per_sample_cfg(tmp_path, max_epochs=1)
    inner = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = dict(type='ClassBalancedDataset',
                                        dataset=inner, oversample_thr=0.2)
    cfg.train_dataloader.sampler = dict(type='RepeatAugSampler',
                                        num_repeats=3, shuffle=True)
    delivered = SampleRecorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(delivered)
    runner.train()
    dataset = runner.train_dataloader.dataset
    assert isinstance(dataset, ClassBalancedDataset)
    assert len(dataset) > N_TRAIN  # the wrapper repeats rare images
    seen = torch.tensor(sorted(set(delivered.indices)))
    assert len(delivered.indices) > len(seen)  # repeats were delivered
    bank = runner.model.head.dsb_weighter.bank
    assert bank.num_samples == N_TRAIN
    assert torch.equal(bank.keys(), seen)
    feats, labels = bank.ordered()
    by_hand = labels_by_hand(dataset.dataset)[seen]
    assert torch.equal(labels, by_hand)
    assert bank.counts.tolist() == torch.bincount(by_hand, minlength=10
                                                  ).tolist()
    assert torch.allclose(
        feats, features_by_hand(runner, dataset.dataset)[seen], atol=1e-5)


def test_unseen_samples_are_logged_once_and_stay_out(tmp_path):
    # drop_last without shuffling drops the same 22 samples every epoch.
    cfg = per_sample_cfg(tmp_path, max_epochs=3, warmup_epochs=2)
    cfg.train_dataloader.update(drop_last=True)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    recorder = Recorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    seen = N_TRAIN // 32 * 32
    bank = runner.model.head.dsb_weighter.bank
    assert torch.equal(bank.keys(), torch.arange(seen))
    # Ten iterations per epoch: filled after the first ten; said once,
    # not again when re-weighting starts.
    assert recorder.stages == [1] * 10 + [2] * 10 + [3] * 10
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        log = f.read()
    assert log.count('have no feature in the bank') == 1
    assert f'after one epoch {N_TRAIN - seen} of the {N_TRAIN} samples ' \
        'have no feature' in log


def test_resume_restores_keys_and_a_foreign_policy_fills_again(tmp_path):
    Runner.from_cfg(per_sample_cfg(tmp_path, max_epochs=1)).train()
    ckpt = str(tmp_path / 'epoch_1.pth')
    cfg = per_sample_cfg(tmp_path, max_epochs=2)
    cfg.resume, cfg.load_from = True, ckpt
    recorder = Recorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    # Restored full and filled: re-weighting from the first resumed step.
    assert recorder.stages == [3] * ITERS_PER_EPOCH
    assert torch.equal(runner.model.head.dsb_weighter.bank.keys(),
                       torch.arange(N_TRAIN))
    # A FIFO run resumed from it starts a new bank, and says so.
    fifo = digits_cfg(tmp_path / 'fifo', max_epochs=2, warmup_epochs=1)
    fifo.resume, fifo.load_from = True, ckpt
    runner = Runner.from_cfg(fifo)
    runner.train()
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        assert "holds a per_sample bank but this run uses bank_policy='fifo'" \
            in f.read()


def test_bad_policy_values_are_named():
    with pytest.raises(ValueError, match="bank_policy must be 'fifo' or "
                       "'per_sample', got 'queue'"):
        DSBHook(bank_policy='queue')
    with pytest.raises(ValueError, match='capacity sizes a FIFO bank'):
        DSBHook(bank_policy='per_sample', capacity=100)


def test_concatenated_sets_are_refused(tmp_path):
    cfg = per_sample_cfg(tmp_path, max_epochs=1)
    inner = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = dict(type='ConcatDataset',
                                        datasets=[inner, inner])
    with pytest.raises(ValueError, match='ConcatDataset'):
        Runner.from_cfg(cfg).train()
    assert DATASETS.get('ConcatDataset') is not None


def test_iteration_based_stages(tmp_path):
    # An "epoch" is ceil(342 / 32) = 11 iterations: filled after 11 pushes,
    # re-weighting from iteration 13 (warm-up 12 iterations).
    cfg = per_sample_cfg(tmp_path)
    cfg.custom_hooks[0] = dict(type='DSBHook', warmup_iters=12,
                               bank_policy='per_sample')
    cfg.train_cfg = dict(by_epoch=False, max_iters=14, val_interval=1000)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000,
                                        by_epoch=False)
    recorder = Recorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    assert recorder.stages == [1] * 11 + [2] + [3] * 2
