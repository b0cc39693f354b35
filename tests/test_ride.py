"""RIDE and DSB+RIDE: the loss against a float64 reference written here,
the multi-expert network, the DSB weights of the experts' terms (none
outside the re-weighting stage), state dicts, and a short training run."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine.dsb_banks import consumer_device
from mmdsb.engine.stages import DSBStage
from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb.models.heads import RIDEExpertBank

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
COUNTS = [40., 20., 9., 5., 2.]


# ------------------------------------------------------------- reference
def log_softmax(a):
    a = a - a.max(axis=1, keepdims=True)
    return a - np.log(np.exp(a).sum(axis=1, keepdims=True))


def ride_reference(z, y, counts, drw, weights=None, f_div=-0.2, tf=0.05,
                   beta=0.9999, max_m=0.5, s=30.0):
    """RIDE's loss in float64 from its formulas: per expert LDAM (margins
    n^-1/4 scaled to max_m, times s) with DRW's weighted mean, plus
    f_div * mean(T)^2 * KL(softmax(zbar / T) || softmax(z_i / T))."""
    z, y = np.asarray(z, np.float64), np.asarray(y)
    counts = np.asarray(counts, np.float64)
    n, num_experts, c = z.shape
    rows = np.arange(n)
    m = counts**-0.25
    m = m * max_m / m.max()
    cb = (1 - beta) / (1 - beta**counts)
    cb = cb * c / cb.sum()
    if drw:
        t = c * (counts / counts.sum()) * tf + 1 - tf
        t = t / t.max()
    else:
        t = np.ones(c)
    log_p = log_softmax(z.mean(axis=1) / t)
    total = 0.0
    for i in range(num_experts):
        zi = z[:, i].copy()
        zi[rows, y] -= s * m[y]
        ce = -log_softmax(zi)[rows, y]
        w = None if weights is None else weights[i]
        if w is not None:
            cls = np.mean(np.asarray(w, np.float64) * ce)
        elif drw:
            cls = np.sum(cb[y] * ce) / np.sum(cb[y])
        else:
            cls = ce.mean()
        kl = np.sum(np.exp(log_p) * (log_p - log_softmax(z[:, i] / t))) / n
        total += cls + f_div * t.mean()**2 * kl
    return total


def make_loss(epoch, **kwargs):
    loss = MODELS.build(dict(type='RIDELoss', drw_epoch=3, **kwargs))
    loss.set_class_counts(COUNTS)
    loss.set_epoch(epoch, 10)
    return loss


def batch(n=12, experts=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = 30 * (2 * torch.rand(n, experts, len(COUNTS), generator=g,
                             dtype=torch.float64) - 1)
    y = torch.randint(0, len(COUNTS), (n, ), generator=g)
    return z, y


# ------------------------------------------------------------------ loss
@pytest.mark.parametrize('epoch', [2, 3])  # before and after DRW
def test_ride_loss_matches_reference(epoch):
    z, y = batch()
    loss = make_loss(epoch, temperature_factor=0.3)
    want = ride_reference(z.numpy(), y.numpy(), COUNTS, drw=epoch >= 3,
                          tf=0.3)
    assert loss(z, y).item() == pytest.approx(want, rel=1e-12)


def test_ride_loss_sample_weights_replace_drw():
    z, y = batch(seed=1)
    a = torch.rand(len(y), dtype=torch.float64) + 0.5
    per_expert = [a, None, 2 * a]
    for epoch in (0, 5):
        loss = make_loss(epoch)
        shared = ride_reference(z.numpy(), y.numpy(), COUNTS, epoch >= 3,
                                weights=[a.numpy()] * 3)
        got = loss(z, y, weight=a).item()
        assert got == pytest.approx(shared, rel=1e-12)
        split = ride_reference(z.numpy(), y.numpy(), COUNTS, epoch >= 3,
                               weights=[a.numpy(), None, 2 * a.numpy()])
        assert loss(z, y, weight=per_expert).item() == pytest.approx(
            split, rel=1e-12)


def test_diversity_term_pushes_experts_apart():
    """Without the classification term the loss is -0.2 * KL: its gradient
    moves each expert away from the (detached) mean."""
    z, y = batch(seed=2)
    z.requires_grad_(True)
    loss = make_loss(0)
    total = loss(z, y)
    cls_only = make_loss(0, diversity_factor=1e-12)
    (total - cls_only(z, y)).backward()
    z1 = (z - 0.01 * z.grad).detach()
    kl = sum(
        F.kl_div(F.log_softmax(z1[:, i], 1), F.softmax(z1.mean(1), 1),
                 reduction='batchmean') for i in range(3))
    kl0 = sum(
        F.kl_div(F.log_softmax(z[:, i], 1), F.softmax(z.mean(1), 1),
                 reduction='batchmean') for i in range(3))
    assert kl.item() > kl0.item()


def test_distillation_term_matches_reference():
    """The authors' RIDELossWithDistill: E * (RIDE + f * tau^2 *
    KL(softmax(t / tau) || softmax(zbar / tau)))."""
    z, y = batch(seed=3)
    t = torch.randn(len(y), len(COUNTS), dtype=torch.float64) * 5
    loss = make_loss(0, distill_factor=0.7, distill_temperature=1.5)
    log_s = log_softmax(z.numpy().mean(1) / 1.5)
    log_t = log_softmax(t.numpy() / 1.5)
    kl = np.sum(np.exp(log_t) * (log_t - log_s)) / len(y)
    want = 3 * (ride_reference(z.numpy(), y.numpy(), COUNTS, False) +
                0.7 * 1.5**2 * kl)
    assert loss(z, y, teacher_score=t).item() == pytest.approx(want,
                                                               rel=1e-12)


def test_ride_student_distils_a_six_expert_teacher(tmp_path):
    """DiVEClassifier hands a 6-expert RIDE teacher's mean logits to the
    student's RIDE loss."""
    torch.manual_seed(4)
    teacher = dict(type='ImageClassifier', backbone=tiny_backbone_cfg(6),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(head_cfg(), num_experts=6))
    path = str(tmp_path / 'teacher.pth')
    torch.save(MODELS.build(teacher).state_dict(), path)
    model = MODELS.build(
        dict(type='DiVEClassifier', backbone=tiny_backbone_cfg(3),
             neck=dict(type='GlobalAveragePooling'),
             head=head_cfg(loss=dict(type='RIDELoss', distill_factor=1.0)),
             teacher=teacher, teacher_checkpoint=path))
    model.init_weights()
    model.head.loss_module.set_class_counts(COUNTS)
    model.head.loss_module.set_epoch(0, 10)
    x = torch.randn(4, 3, 32, 32)
    labels = torch.tensor([0, 1, 2, 4])
    got = model.loss(x, samples(labels))['loss']
    with torch.no_grad():
        z = model.head.expert_logits(
            model.head.pre_logits(model.extract_feat(x)))
        t = model.teacher(x, mode='tensor')
    log_s = log_softmax(z.double().numpy().mean(1) / 1.5)
    log_t = log_softmax(t.double().numpy() / 1.5)
    kl = np.sum(np.exp(log_t) * (log_t - log_s)) / 4
    want = 3 * (ride_reference(z.double().numpy(), labels.numpy(), COUNTS,
                               False) + 1.5**2 * kl)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_ride_loss_errors():
    z, y = batch()
    with pytest.raises(RuntimeError, match='class counts'):
        MODELS.build(dict(type='RIDELoss'))(z, y)
    with pytest.raises(ValueError, match='drw_epoch'):
        MODELS.build(dict(type='RIDELoss', drw_epoch=-1))
    with pytest.raises(ValueError, match='temperature_factor'):
        MODELS.build(dict(type='RIDELoss', temperature_factor=1.5))
    with pytest.raises(ValueError, match='2 per-expert weights for 3'):
        make_loss(0)(z, y, weight=[None, None])
    with pytest.raises(ValueError, match=r'\(N, experts, classes\)'):
        make_loss(0)(z[:, 0], y)


# --------------------------------------------------------------- network
def tiny_backbone_cfg(num_experts=3):
    return dict(type='RIDEResNet',
                trunk=dict(type='ResNet', depth=18, stem_channels=8,
                           base_channels=8),
                num_experts=num_experts,
                expert_channels=(16, 24))


def tiny_backbone():
    return MODELS.build(tiny_backbone_cfg())


def head_cfg(type_='RIDEHead', **kwargs):
    return dict(type=type_, num_classes=len(COUNTS), in_channels=24,
                num_experts=3, **kwargs)


def test_experts_share_the_trunk_and_are_independent():
    torch.manual_seed(0)
    net = tiny_backbone().eval()
    calls = []
    net.trunk.register_forward_hook(lambda *args: calls.append(1))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        feats = net(x)
        assert len(calls) == 1 and len(feats) == 3
        shared = net.trunk(x)[-1]
        for expert, f in zip(net.experts, feats):
            assert torch.equal(expert(shared), f)
        # Changing expert 1 leaves the others' outputs unchanged.
        for p in net.experts[1].parameters():
            p.add_(0.5)
        again = net(x)
    assert torch.equal(again[0], feats[0]) and torch.equal(again[2],
                                                           feats[2])
    assert not torch.allclose(again[1], feats[1])


def test_head_logits_are_scaled_cosines_and_their_mean():
    torch.manual_seed(1)
    head = MODELS.build(head_cfg())
    feats = tuple(torch.randn(6, 24, dtype=torch.float64) for _ in range(3))
    head = head.double()
    logits = head.expert_logits(head.pre_logits(feats))
    w = head.weight.detach().numpy()
    for i, f in enumerate(feats):
        f = f.numpy()
        cos = (f / np.linalg.norm(f, axis=1, keepdims=True)) @ (
            w[i] / np.linalg.norm(w[i], axis=1, keepdims=True)).T
        np.testing.assert_allclose(logits[:, i].detach().numpy(), 30 * cos,
                                   rtol=1e-12)
    np.testing.assert_allclose(head(feats).detach().numpy(),
                               logits.mean(1).detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match='num_experts=3 but the neck'):
        head(feats[:2])


def test_resnext50_experts_have_rides_reduced_width():
    net = MODELS.build(
        dict(type='RIDEResNet',
             trunk=dict(type='ResNeXt', depth=50, groups=32,
                        width_per_group=4)))
    assert [len(e[0]) for e in net.experts] == [6] * 3
    assert [len(e[1]) for e in net.experts] == [3] * 3
    conv3, conv4 = net.experts[0][0][0].conv2, net.experts[0][1][0].conv2
    # RIDE's 192 / 384 planes: 384 and 768 grouped channels, 1536 out.
    assert (conv3.in_channels, conv3.groups) == (384, 32)
    assert (conv4.in_channels, conv4.groups) == (768, 32)
    assert net.experts[0][1][-1].out_channels == 1536 == net.feat_dim
    assert not hasattr(net.trunk, 'layer3')


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match='expert_channels'):
        MODELS.build(dict(type='RIDEResNet', expert_channels=(8, )))
    with pytest.raises(ValueError, match="dsb_bank must be .*'both'"):
        MODELS.build(head_cfg('DSBRIDEHead', dsb_bank='both'))
    with pytest.raises(ValueError, match='num_experts must be a positive'):
        MODELS.build(dict(type='RIDEHead', num_classes=5, in_channels=4,
                          num_experts=0))


# ---------------------------------------------------------------- router
def router_reference(head, feats, labels):
    """Routed predictions and the router loss in float64 from the
    router's weights: expert logits 30 cos, router i on (top-k of the mean
    of experts 0..i, relu(W_h normalise(x_i) + b_h)), BCE with pos_weight
    on "the mean of 0..i is wrong and a later cumulative mean is right"."""
    x = np.stack([f.double().numpy() for f in feats], axis=1)
    w = head.weight.detach().double().numpy()
    z = 30 * np.einsum('ned,ecd->nec',
                       x / np.linalg.norm(x, axis=2, keepdims=True),
                       w / np.linalg.norm(w, axis=2, keepdims=True))
    par = {k: v.detach().double().numpy()
           for k, v in head.named_parameters() if 'router' in k}
    k = head.top_choices

    def router(i, feat, mean):
        h = feat / np.linalg.norm(feat, axis=1, keepdims=True)
        h = np.maximum(h @ par[f'router_hidden.{i}.weight'].T +
                       par[f'router_hidden.{i}.bias'], 0)
        top = -np.sort(-mean, axis=1)[:, :k]
        return (np.concatenate([top, h], 1) @ par['router_out.weight'].T +
                par['router_out.bias'])[:, 0]

    n, e = z.shape[:2]
    preds = []
    for j in range(n):
        used = 1
        while used < e and router(used - 1, x[j:j + 1, used - 1],
                                  z[j:j + 1, :used].mean(1))[0] > 0:
            used += 1
        preds.append(z[j, :used].mean(0))
    cum = np.cumsum(z, axis=1)
    correct = cum.argmax(axis=2) == np.asarray(labels)[:, None]
    loss = 0.0
    for i in range(e - 1):
        t = (~correct[:, i] & correct[:, i + 1:].any(axis=1)).astype(float)
        p = router(i, x[:, i], cum[:, i] / (i + 1))
        log_s, log_1s = -np.logaddexp(0, -p), -np.logaddexp(0, p)
        loss += np.mean(-(head.pos_weight * t * log_s + (1 - t) * log_1s))
    return np.stack(preds), loss / (e - 1)


def test_router_matches_reference_and_trains_only_the_router():
    torch.manual_seed(5)
    head = MODELS.build(head_cfg('RIDERouterHead', top_choices=3,
                                 pos_weight=4.0))
    with torch.no_grad():  # a large router bias: some images stop early
        head.router_out.bias.fill_(0.3)
    labels = torch.arange(40) % len(COUNTS)
    feats = tuple(torch.randn(40, 24) for _ in range(3))
    want_pred, want_loss = router_reference(head, feats, labels.numpy())
    np.testing.assert_allclose(head(feats).detach().double().numpy(),
                               want_pred, rtol=1e-5, atol=1e-5)
    loss = head.loss(feats, samples(labels))['loss']
    assert loss.item() == pytest.approx(want_loss, rel=1e-5)
    loss.backward()
    grads = {k for k, p in head.named_parameters() if p.grad is not None}
    assert grads and all(k.startswith('router') for k in grads)
    with pytest.raises(ValueError, match='top_choices=9 exceeds'):
        MODELS.build(head_cfg('RIDERouterHead', top_choices=9))


def test_frozen_backbone_keeps_weights_and_statistics():
    net = MODELS.build(dict(tiny_backbone_cfg(), frozen=True)).train()
    assert not any(p.requires_grad for p in net.parameters())
    assert not any(m.training for m in net.modules())


# --------------------------------------------------------------- DSB+RIDE
def samples(labels):
    return [DataSample().set_gt_label(int(c)) for c in labels]


def attach_banks(head, stage, capacity=40):
    weighters = []
    for bank in head.dsb_banks:
        w = SemanticScaleWeighter(bank_dim=8)
        w.init_bank(capacity, len(COUNTS), 'cpu')
        bank.dsb_weighter = w
        w.stage = stage
        weighters.append(w)
    return weighters


def head_pair(bank, seed=0):
    torch.manual_seed(seed)
    ride = MODELS.build(head_cfg(loss=dict(type='RIDELoss', drw_epoch=3)))
    dsb = MODELS.build(
        head_cfg('DSBRIDEHead', dsb_bank=bank,
                 loss=dict(type='RIDELoss', drw_epoch=3)))
    # Same parameter names: a RIDE checkpoint loads into DSB+RIDE.
    dsb.load_state_dict(ride.state_dict())
    assert dsb.state_dict().keys() == ride.state_dict().keys()
    for h in (ride, dsb):
        h.loss_module.set_class_counts(COUNTS)
        h.loss_module.set_epoch(5, 10)  # DRW on: DSB must replace it
    return ride, dsb


def class_feats(labels, seed, experts=3):
    """Expert features whose spread grows with the class index, so that
    the classes' semantic scales (hence weights) differ."""
    g = torch.Generator().manual_seed(seed)
    spread = (1 + labels.double())[:, None]
    return tuple(
        (torch.randn(len(labels), 24, generator=g, dtype=torch.float64) *
         spread * (1 + e)).float() for e in range(experts))


@pytest.mark.parametrize('bank', ['mean', 'per_expert'])
def test_dsb_ride_is_ride_before_reweighting(bank):
    ride, dsb = head_pair(bank)
    attach_banks(dsb, DSBStage.SLIDE)
    labels = torch.arange(20) % len(COUNTS)
    feats = class_feats(labels, 0)
    assert torch.equal(
        dsb.loss(feats, samples(labels))['loss'],
        ride.loss(feats, samples(labels))['loss'])
    assert all(len(b.dsb_weighter.bank) == 20 for b in dsb.dsb_banks)


@pytest.mark.parametrize('bank', ['mean', 'per_expert'])
def test_dsb_ride_weights_each_expert_by_its_bank(bank):
    ride, dsb = head_pair(bank, seed=1)
    weighters = attach_banks(dsb, DSBStage.FILL)
    labels = torch.arange(20) % len(COUNTS)
    # Fill the banks with an earlier batch, then re-weight.
    dsb.loss(class_feats(labels, 1), samples(labels))
    for w in weighters:
        w.stage = DSBStage.REWEIGHT
    feats = class_feats(labels, 2)
    got = dsb.loss(feats, samples(labels))['loss']
    # The weights the loss used: the banks have not changed since.
    a = [w.class_weights(record=False) for w in weighters]
    assert all(x.mean().item() == pytest.approx(1.0) for x in a)
    assert not torch.allclose(a[0], torch.ones_like(a[0]))
    if bank == 'mean':
        # The bank holds the mean of the experts' features.
        ref = SemanticScaleWeighter(bank_dim=8)
        ref.init_bank(40, len(COUNTS), 'cpu')
        for x in (class_feats(labels, 1), feats):
            ref.observe(torch.stack(x).mean(0), labels)
        assert torch.allclose(ref.class_weights(record=False), a[0])
        a = a * 3
    else:
        assert not torch.allclose(a[0], a[2])
    with torch.no_grad():
        z = ride.expert_logits(ride.pre_logits(feats)).double().numpy()
    want = ride_reference(z, labels.numpy(), COUNTS, drw=True,
                          weights=[x[labels].double().numpy() for x in a])
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_banks_follow_the_heads_device_but_hold_no_weights():
    """DSBHook puts a bank where its consumer's first parameter, else its
    first buffer, lives; the banks keep an empty buffer that follows the
    head and that the model's parameters and state never hold."""
    head = MODELS.build(head_cfg('DSBRIDEHead', dsb_bank='per_expert'))
    head.to(torch.float64)
    for bank in head.dsb_banks:
        assert consumer_device(bank) == head.weight.device
        assert list(bank.parameters()) == []
        assert bank.device_anchor.dtype == torch.float64
    assert [n for n, _ in head.named_parameters()] == ['weight']
    assert list(head.state_dict()) == ['weight']
    assert consumer_device(RIDEExpertBank(3)) == torch.device('cpu')


def test_network_state_round_trip():
    torch.manual_seed(3)
    net, head = tiny_backbone().eval(), MODELS.build(head_cfg()).eval()
    net2, head2 = tiny_backbone().eval(), MODELS.build(
        head_cfg('DSBRIDEHead', dsb_bank='per_expert')).eval()
    net2.load_state_dict(net.state_dict())
    head2.load_state_dict(head.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        pooled = tuple(f.mean((2, 3)) for f in net(x))
        pooled2 = tuple(f.mean((2, 3)) for f in net2(x))
        assert torch.equal(head(pooled), head2(pooled2))


# ------------------------------------------------------------- training
@pytest.mark.slow
@pytest.mark.parametrize('bank', ['per_expert'])
def test_dsb_ride_trains_with_one_bank_per_expert(bank, tmp_path):
    """Two epochs of the digits RIDE of compare_ride_banks.py: DSBHook
    finds one consumer per expert, re-weights in epoch 2, and saves
    every bank under its module name."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    import compare_ride_banks as tool

    class Args:
        epochs, work_dir = 2, str(tmp_path)

    cfg = tool.build_cfg('DSB+RIDE (per expert)', 0, Args)
    cfg.custom_hooks[0].warmup_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    head = runner.model.head
    assert [b.dsb_weighter.stage for b in head.dsb_banks] == [3] * 3
    assert head.dsb_weighter is head.dsb_banks[0].dsb_weighter
    ckpt = torch.load(osp.join(cfg.work_dir, 'epoch_2.pth'),
                      weights_only=False)
    assert sorted(ckpt['dsb_banks']) == [
        f'head.dsb_banks.{i}' for i in range(3)
    ]
