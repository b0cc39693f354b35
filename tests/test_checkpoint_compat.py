"""Checkpoints written by mmdsb 1.x load and resume with today's code.

``data/dsb_checkpoint_v1.pth`` was saved by the DSBHook of mmdsb 1.x after
two epochs of the digits demo, and ``data/dsb_checkpoint_v1.json`` holds the
class weights that code computed from the saved bank (see
``data/make_dsb_checkpoint.py``).
"""
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb  # noqa: F401
from mmdsb.engine import DSBHook

HERE = osp.dirname(osp.abspath(__file__))
CKPT = osp.join(HERE, 'data', 'dsb_checkpoint_v1.pth')
DEMO = osp.join(HERE, '..', 'configs', 'demo', 'ce_lenet5_digits-lt.py')


class WeightsAtStart(Hook):
    """Records the DSB class weights right after the checkpoint loaded."""
    priority = 'LOWEST'

    def before_train(self, runner):
        hook = next(h for h in runner.hooks if isinstance(h, DSBHook))
        w = hook.weighter
        self.bank_size = len(w.bank)
        self.weights = w.class_weights(w.semantic_scales(), record=False)


def digits_cfg(work_dir, max_epochs):
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                         val_interval=100)
    cfg.param_scheduler = []
    cfg.custom_hooks = [dict(type='DSBHook', warmup_epochs=1)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    return cfg


def test_resume_from_a_1x_checkpoint(tmp_path):
    with open(osp.join(HERE, 'data', 'dsb_checkpoint_v1.json')) as f:
        expected = json.load(f)
    cfg = digits_cfg(tmp_path, max_epochs=3)
    cfg.resume, cfg.load_from = True, CKPT
    runner = Runner.from_cfg(cfg)
    start = WeightsAtStart()
    runner.register_hook(start)
    runner.train()
    assert start.bank_size == expected['bank_size'] == 342
    torch.testing.assert_close(
        start.weights.double(),
        torch.tensor(expected['class_weights'], dtype=torch.float64),
        rtol=0, atol=1e-6)
    saved = torch.load(tmp_path / 'epoch_3.pth', weights_only=False)
    old = torch.load(CKPT, weights_only=False)
    # The same keys and shapes, in the model and in the bank.
    assert {k: v.shape for k, v in saved['state_dict'].items()} == {
        k: v.shape for k, v in old['state_dict'].items()}
    assert saved['dsb_bank'].keys() == old['dsb_bank'].keys()
    assert saved['dsb_bank']['bank'].keys() == old['dsb_bank']['bank'].keys()
    assert saved['meta']['epoch'] == 3


def test_load_from_a_1x_checkpoint_without_resume(tmp_path):
    cfg = digits_cfg(tmp_path, max_epochs=1)
    cfg.load_from = CKPT  # fine-tuning: the weights only, a new bank
    runner = Runner.from_cfg(cfg)
    start = WeightsAtStart()
    runner.register_hook(start)
    runner.train()
    assert start.bank_size == 0
    old = torch.load(CKPT, weights_only=False)['state_dict']
    # Strict loading: every key of the old head is a key of today's model.
    assert set(old) == set(runner.model.state_dict())
