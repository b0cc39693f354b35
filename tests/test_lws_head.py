"""LWSLinearClsHead: logits, frozen classifier, checkpoint loading, its DSB
twin, and decoupled classifier training (LWS with class-aware sampling) in
a real Runner."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine import SemanticScaleWeighter
from mmdsb.models.heads import (DSBHeadMixin, DSBLWSLinearClsHead,
                                LWSLinearClsHead)
from mmdsb.semantic_scale import dsb_weights, semantic_scales

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
C, IN = 4, 16


def build(type_='LWSLinearClsHead', seed=0):
    torch.manual_seed(seed)
    return MODELS.build(
        dict(type=type_, num_classes=C, in_channels=IN,
             loss=dict(type='CrossEntropyLoss')))


def batch(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % C
    feats = torch.randn(n, IN, generator=g) + labels[:, None] * 0.5
    return (feats, ), [DataSample().set_gt_label(int(y)) for y in labels]


def randomize(head, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head.fc.weight.copy_(torch.randn(C, IN, generator=g))
        head.fc.bias.copy_(torch.randn(C, generator=g))
        head.scales.copy_(torch.rand(C, generator=g) * 2 + 0.1)
    return head


def trainable(head):
    return sorted(n for n, p in head.named_parameters() if p.requires_grad)


def test_logits_are_scaled_linear_logits():
    head = randomize(build())
    feats, _ = batch()
    x = feats[-1]
    want = (x.double() @ head.fc.weight.double().T +
            head.fc.bias.double()) * head.scales.double()
    got = head(feats)
    assert got.shape == (12, C)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    # Not the unscaled logits: the scales are far from 1.
    assert not torch.allclose(got, head.fc(x), atol=1e-2)
    assert torch.equal(head.predict(feats)[0].pred_score,
                       F.softmax(got[0], dim=0))


def test_fc_is_frozen_scales_start_at_one():
    head = build()
    assert head.scales.tolist() == [1.0] * C
    assert trainable(head) == ['scales']
    assert sorted(head.state_dict()) == ['fc.bias', 'fc.weight', 'scales']
    head.init_weights()
    assert trainable(head) == ['scales']
    # train() freezes fc again even if something unfroze it.
    head.fc.requires_grad_(True)
    assert head.train() is head
    assert trainable(head) == ['scales']
    head.fc.requires_grad_(True)
    head.eval()
    assert trainable(head) == ['scales']


def test_sgd_through_the_loss_moves_only_the_scales():
    head = randomize(build()).train()
    fc_before = copy.deepcopy(head.fc.state_dict())
    scales_before = head.scales.detach().clone()
    # Every parameter goes to the optimizer, as a Runner does.
    opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9,
                          weight_decay=1e-3)
    losses = []
    for step in range(5):
        feats, samples = batch(seed=step)
        loss = head.loss(feats, samples)['loss']
        opt.zero_grad()
        loss.backward()
        assert head.fc.weight.grad is None and head.fc.bias.grad is None
        assert head.scales.grad.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert torch.equal(head.fc.weight, fc_before['weight'])
    assert torch.equal(head.fc.bias, fc_before['bias'])
    assert (head.scales.detach() - scales_before).abs().min() > 0
    assert losses[-1] < losses[0]


def test_loss_gradient_matches_hand_computation():
    head = randomize(build()).train()
    feats, samples = batch()
    head.loss(feats, samples)['loss'].backward()
    # d mean_i CE(z_i s, y_i) / d s_c = mean_i z_ic (p_ic - [y_i = c]).
    z = (feats[-1].double() @ head.fc.weight.double().T +
         head.fc.bias.double())
    p = F.softmax(z * head.scales.double(), dim=1)
    y = F.one_hot(torch.arange(12) % C, C).double()
    want = (z * (p - y)).mean(0)
    torch.testing.assert_close(head.scales.grad.double(), want, rtol=1e-4,
                               atol=1e-6)


def test_loads_a_linear_head_state_dict():
    torch.manual_seed(3)
    plain = MODELS.build(
        dict(type='LinearClsHead', num_classes=C, in_channels=IN))
    with torch.no_grad():
        plain.fc.bias.normal_()
    head = build(seed=4)
    assert not torch.equal(head.fc.weight, plain.fc.weight)
    result = head.load_state_dict(plain.state_dict(), strict=False)
    assert result.missing_keys == ['scales']
    assert result.unexpected_keys == []
    assert torch.equal(head.fc.weight, plain.fc.weight)
    assert torch.equal(head.fc.bias, plain.fc.bias)
    assert head.scales.tolist() == [1.0] * C
    assert trainable(head) == ['scales']
    feats, _ = batch()
    assert torch.equal(head(feats), plain(feats))


def test_dsb_twin_builds_and_weights_the_lws_loss():
    dsb = build('DSBLWSLinearClsHead')
    assert type(dsb) is DSBLWSLinearClsHead
    assert isinstance(dsb, LWSLinearClsHead)
    assert isinstance(dsb, DSBHeadMixin)
    assert trainable(dsb) == ['scales']
    plain = randomize(build())
    dsb.load_state_dict(plain.state_dict())
    plain.train(), dsb.train()
    weighter = SemanticScaleWeighter(alpha=2.0, bank_dim=IN)
    weighter.init_bank(capacity=100, num_classes=C, device='cpu')
    dsb.dsb_weighter = weighter

    # Outside the re-weighting stage: the plain LWS loss, and the bank gets
    # the classifier input (bank_dim = in_channels keeps it unpooled).
    feats, samples = batch()
    assert torch.equal(dsb.loss(feats, samples)['loss'],
                       plain.loss(feats, samples)['loss'])
    bank_feats, bank_labels = weighter.bank.ordered()
    assert torch.equal(bank_feats, feats[-1])
    assert bank_labels.tolist() == (torch.arange(12) % C).tolist()

    for seed in range(1, 6):
        dsb.loss(*batch(seed=seed))
    weighter.stage = 3
    feats, samples = batch(seed=9)
    loss = dsb.loss(feats, samples)['loss']
    pool_feats, pool_labels = weighter.bank.ordered()
    a = dsb_weights(semantic_scales(pool_feats, pool_labels, C, alpha=2.0))
    labels = torch.arange(12) % C
    per_sample = F.cross_entropy(plain(feats).double(), labels,
                                 reduction='none')
    assert loss.item() == pytest.approx((a[labels] * per_sample).mean()
                                        .item(), rel=1e-5)
    loss.backward()
    assert dsb.fc.weight.grad is None and dsb.scales.grad is not None


# ------------------------------------------------------------ Runner
DIGITS_COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]  # rho = 50


def digits_cfg(head_type, work_dir):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/demo/ce_lenet5_digits-lt.py'))
    cfg.work_dir = str(work_dir)
    cfg.model.head = dict(type=head_type, num_classes=10, in_channels=120,
                          loss=dict(type='CrossEntropyLoss'))
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.train_dataloader.batch_size = 114  # 3 iterations per epoch
    cfg.train_cfg.update(max_epochs=1, val_interval=10)
    cfg.param_scheduler = []
    return cfg


class _LabelRecorder(Hook):

    def __init__(self, out):
        self.out = out

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.out.extend(int(s.gt_label) for s in data_batch['data_samples'])


def test_lws_stage_with_class_aware_sampler_in_runner(tmp_path):
    # Stage 1: representation and classifier, instance-balanced.
    stage1 = Runner.from_cfg(digits_cfg('LinearClsHead', tmp_path / 's1'))
    stage1.train()
    trained = {k: v.clone() for k, v in stage1.model.state_dict().items()}

    # Stage 2: LWS with class-balanced sampling on the stage-1 weights;
    # the backbone gets no learning rate.
    cfg = digits_cfg('LWSLinearClsHead', tmp_path / 's2')
    cfg.load_from = str(tmp_path / 's1' / 'epoch_1.pth')
    cfg.train_dataloader.sampler = dict(type='ClassAwareSampler')
    cfg.optim_wrapper.optimizer.lr = 0.5
    cfg.optim_wrapper.paramwise_cfg = dict(
        custom_keys={'backbone': dict(lr_mult=0.0, decay_mult=0.0)})
    stage2 = Runner.from_cfg(cfg)
    labels = []
    stage2.register_hook(_LabelRecorder(labels), 'LOWEST')
    stage2.train()

    assert type(stage2.train_dataloader.sampler).__name__ == \
        'ClassAwareSampler'
    assert np.bincount(stage2.train_dataloader.dataset.get_gt_labels()
                       ).tolist() == DIGITS_COUNTS
    # One epoch of 342 draws: 34 rounds over the 10 classes plus 2 slots.
    assert len(labels) == 342
    counts = np.bincount(labels, minlength=10)
    assert sorted(counts.tolist()) == [34] * 8 + [35] * 2

    final = stage2.model.state_dict()
    assert set(final) == set(trained) | {'head.scales'}
    changed = {k for k in trained if not torch.equal(final[k], trained[k])}
    assert changed == set()  # backbone and fc are the stage-1 weights
    scales = final['head.scales']
    assert not torch.equal(scales, torch.ones(10))
    assert torch.isfinite(scales).all()
    head = stage2.model.head
    assert head.fc.weight.requires_grad is False
    assert head.scales.requires_grad is True
