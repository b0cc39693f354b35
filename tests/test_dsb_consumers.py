"""A model with two DSB consumers (like the stages of a cascade head): each
gets its own weighter, bank and capacity, and both banks are saved."""
import os.path as osp

import pytest
import torch
from mmengine.model import BaseModule
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from mmdsb.models.heads.dsb_head import DSBLinearClsHead
from test_dsb_hook import (BATCH, ITERS_PER_EPOCH, N_TRAIN, digits_cfg,
                           read_log)

# Slow: several DSB consumers trained through the Runner.
pytestmark = pytest.mark.slow

HALF = N_TRAIN // 2


class HalfEpochHead(DSBLinearClsHead):
    """A consumer whose bank holds half an epoch."""

    def dsb_samples_per_epoch(self, dataset):
        return len(dataset) // 2


@MODELS.register_module(force=True)
class TwoDSBHeads(BaseModule):
    """Two DSB heads on the same features, their losses summed."""

    def __init__(self, num_classes, in_channels, loss, **kwargs):
        super().__init__()
        self.first = DSBLinearClsHead(num_classes, in_channels, loss=loss)
        self.second = HalfEpochHead(num_classes, in_channels, loss=loss)

    def loss(self, feats, data_samples):
        return dict(
            loss_first=self.first.loss(feats, data_samples)['loss'],
            loss_second=self.second.loss(feats, data_samples)['loss'])

    def predict(self, feats, data_samples=None):
        return self.first.predict(feats, data_samples)


def two_head_cfg(work_dir, max_epochs):
    cfg = digits_cfg(work_dir, max_epochs=max_epochs, warmup_epochs=1)
    cfg.model.head.type = 'TwoDSBHeads'
    return cfg


def test_each_consumer_has_its_own_bank(tmp_path):
    runner = Runner.from_cfg(two_head_cfg(tmp_path, max_epochs=2))
    runner.train()
    head = runner.model.head
    first, second = head.first.dsb_weighter, head.second.dsb_weighter
    assert first is not second and first.bank is not second.bank
    assert (first.bank.capacity, second.bank.capacity) == (N_TRAIN, HALF)
    # Both saw the same features; the smaller bank keeps the newest half.
    feats, labels = first.bank.ordered()
    feats2, labels2 = second.bank.ordered()
    assert torch.equal(feats2, feats[-HALF:])
    assert torch.equal(labels2, labels[-HALF:])
    assert first.stage == second.stage == 3
    log = read_log(runner)
    # The half-epoch bank is full after 6 batches of 32, the other after
    # the epoch's 11.
    assert -(-HALF // BATCH) == 6
    assert ('DSB [head.second]: stage 2 starts at epoch 1, iteration 7'
            in log)
    assert ('DSB [head.first]: stage 2 starts at epoch 1'
            not in log)
    assert (f'DSB [head.first]: stage 3 starts at epoch 2, iteration '
            f'{ITERS_PER_EPOCH + 1}' in log)
    ckpt = torch.load(osp.join(tmp_path, 'epoch_2.pth'), weights_only=True)
    assert 'dsb_bank' not in ckpt
    assert set(ckpt['dsb_banks']) == {'head.first', 'head.second'}
    assert ckpt['dsb_banks']['head.second']['bank']['feats'].shape == (
        HALF, 64)


def test_resume_restores_every_consumer_bank(tmp_path):
    Runner.from_cfg(two_head_cfg(tmp_path, max_epochs=1)).train()
    saved = torch.load(osp.join(tmp_path, 'epoch_1.pth'), weights_only=True)
    cfg = two_head_cfg(tmp_path / 'resumed', max_epochs=1)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    runner.train()  # nothing left to train: the banks as restored
    for name in ('first', 'second'):
        bank = getattr(runner.model.head, name).dsb_weighter.bank
        state = saved['dsb_banks'][f'head.{name}']['bank']
        feats, labels = bank.ordered()
        assert torch.equal(feats, state['feats'])
        assert torch.equal(labels, state['labels'])
