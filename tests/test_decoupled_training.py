"""cRT and LWS stage 2 from a real stage-1 checkpoint (the MSCOCO-GLT
configs of paper Table 11)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmdsb  # noqa: F401
from mmdsb.datasets import ClassAwareSampler
from test_configs import ROOT, point_at_glt_fixture, shrink_images

# Slow: two-stage training through the Runner.
pytestmark = pytest.mark.slow


def _runner(name, tmp_path, work):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'mscoco-glt', name))
    cfg.work_dir = str(tmp_path / work)
    point_at_glt_fixture(cfg, tmp_path)
    shrink_images(cfg)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    return cfg


def _state(model, prefix):
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.startswith(prefix)}


def _stage1(tmp_path):
    runner = Runner.from_cfg(
        _runner('ce_resnext50_mscoco-glt.py', tmp_path, 'stage1'))
    runner.train()
    return runner.model, str(tmp_path / 'stage1' / 'epoch_1.pth')


def test_crt_keeps_the_backbone_and_retrains_a_fresh_classifier(tmp_path):
    stage1, ckpt = _stage1(tmp_path)
    cfg = _runner('crt_resnext50_mscoco-glt.py', tmp_path, 'crt')
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert isinstance(runner.train_dataloader.sampler, ClassAwareSampler)
    model = runner.model
    # Backbone weights and BN statistics are stage 1's, untouched.
    backbone = _state(model, 'backbone.')
    for key, value in _state(stage1, 'backbone.').items():
        assert torch.equal(backbone[key], value), key
    # The classifier is new: neither stage 1's nor its own initial values.
    fc = model.head.fc.weight.detach()
    assert not torch.allclose(fc, stage1.head.fc.weight)
    assert fc.std().item() < 0.1  # Normal(std 0.01) init plus one epoch


def test_lws_learns_only_the_class_scales(tmp_path):
    stage1, ckpt = _stage1(tmp_path)
    cfg = _runner('lws_resnext50_mscoco-glt.py', tmp_path, 'lws')
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    trained = _state(model, '')
    for key, value in _state(stage1, '').items():
        assert torch.equal(trained[key], value), key
    scales = model.head.scales.detach()
    assert scales.shape == (29, ) and not torch.equal(scales,
                                                      torch.ones(29))
