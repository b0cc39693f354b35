"""The loss zoo against independent float64 computations of its formulas."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmdsb  # noqa: F401
from mmdsb.datasets import CBENSampler, cben_class_probabilities
from mmdsb.models.losses import (cloud_sizes, effective_number_weights,
                                 kps_parameters, ldam_margins)

C10_R100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
COUNTS = [40, 20, 9, 5, 2]
C = len(COUNTS)


def data(n=12, seed=0, cosine=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, C, generator=g, dtype=torch.float64)
    if cosine:
        x = torch.tanh(x)
    y = torch.arange(n) % C
    return x, y


def log_softmax_np(v):
    v = np.asarray(v, dtype=np.float64)
    m = v.max()
    return v - m - math.log(np.exp(v - m).sum())


def build(cfg, counts=COUNTS):
    loss = MODELS.build(cfg)
    if counts is not None:
        loss.set_class_counts(counts)
    return loss


# ----------------------------------------------------------- formulas
def test_class_balanced_ce_and_focal():
    x, y = data()
    n = np.array(COUNTS, dtype=np.float64)
    w = (1 - 0.99) / (1 - 0.99**n)
    w = w / w.sum() * C
    for gamma in (0.0, 2.0):
        loss = build(dict(type='ClassBalancedLoss', beta=0.99, gamma=gamma,
                          reduction='none'))
        got = loss(x, y)
        for i in range(len(y)):
            lp = log_softmax_np(x[i].numpy())[y[i]]
            want = -w[y[i]] * (1 - math.exp(lp))**gamma * lp
            assert got[i].item() == pytest.approx(want, rel=1e-10)


def test_effective_number_weights_average_one_and_favour_tail():
    w = effective_number_weights(torch.tensor(C10_R100), 0.9999)
    assert w.mean().item() == pytest.approx(1.0)
    assert (w[1:] > w[:-1]).all()
    assert torch.allclose(effective_number_weights(torch.tensor([3, 9]), 0.0),
                          torch.ones(2, dtype=torch.float64))


def test_ldam_margins_and_loss():
    m = ldam_margins(torch.tensor(COUNTS), 0.5).numpy()
    want_m = np.array(COUNTS, dtype=np.float64)**-0.25
    want_m *= 0.5 / want_m.max()
    np.testing.assert_allclose(m, want_m, rtol=1e-12)
    assert m[-1] == pytest.approx(0.5)
    x, y = data(cosine=True)
    loss = build(dict(type='LDAMLoss', reduction='none'))
    got = loss(x, y)
    for i in range(len(y)):
        z = x[i].numpy().copy()
        z[y[i]] -= want_m[y[i]]
        assert got[i].item() == pytest.approx(
            -log_softmax_np(30 * z)[y[i]], rel=1e-10)


def test_ldam_drw_switches_to_class_balanced_weights():
    x, y = data(cosine=True)
    loss = build(dict(type='LDAMLoss', drw_epoch=3))
    plain = build(dict(type='LDAMLoss', reduction='none'))(x, y)
    loss.set_epoch(2, 5)
    assert loss(x, y, avg_factor=len(y)).item() == pytest.approx(
        plain.mean().item(), rel=1e-10)
    loss.set_epoch(3, 5)
    w = effective_number_weights(torch.tensor(COUNTS), 0.9999)
    assert loss(x, y, avg_factor=len(y)).item() == pytest.approx(
        (w[y] * plain).mean().item(), rel=1e-10)
    # A DSB weight replaces the DRW weights.
    a = torch.rand(C, dtype=torch.float64) + 0.5
    assert loss(x, y, weight=a[y], avg_factor=len(y)).item() == \
        pytest.approx((a[y] * plain).mean().item(), rel=1e-10)


def test_ldam_drw_needs_the_epoch():
    loss = build(dict(type='LDAMLoss', drw_epoch=3))
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        loss(*data())


@pytest.mark.parametrize('tau', [1.0, 0.5])
def test_logit_adjusted_and_balanced_softmax(tau):
    x, y = data()
    prior = np.log(np.array(COUNTS, dtype=np.float64) / sum(COUNTS))
    la = build(dict(type='LogitAdjustedLoss', tau=tau, reduction='none'))(x, y)
    bs = build(dict(type='BalancedSoftmaxLoss', reduction='none'))(x, y)
    for i in range(len(y)):
        z = x[i].numpy()
        assert la[i].item() == pytest.approx(
            -log_softmax_np(z + tau * prior)[y[i]], rel=1e-10)
        assert bs[i].item() == pytest.approx(
            -log_softmax_np(z + prior)[y[i]], rel=1e-10)


def test_lade_prior_ce_plus_regulariser():
    x, y = data(n=9)  # class 4 appears once, all classes present
    y[-1] = 0  # an uneven batch
    loss = build(dict(type='LADELoss', alpha=0.3, remine_lambda=0.2))
    got = loss(x, y, avg_factor=len(y)).item()
    xs, ys = x.numpy(), y.numpy()
    pi = np.array(COUNTS, dtype=np.float64) / sum(COUNTS)
    ce = np.mean([-log_softmax_np(xs[i] + np.log(pi))[ys[i]]
                  for i in range(len(ys))])
    reg = 0.0
    for c in range(C):
        members = xs[ys == c, c]
        first = members.sum() / (len(members) + 1e-8)
        col = xs[:, c] - math.log(pi[c]) + math.log(1 / C)
        second = math.log(np.exp(col).sum()) - math.log(len(ys))
        reg -= pi[c] * (first - second - 0.2 * second**2)
    assert got == pytest.approx(ce + 0.3 * reg, rel=1e-10)


def test_norm_softmax():
    x, y = data(cosine=True)
    got = MODELS.build(dict(type='NormSoftmaxLoss', temperature=0.1,
                            reduction='none'))(x, y)
    for i in range(len(y)):
        assert got[i].item() == pytest.approx(
            -log_softmax_np(x[i].numpy() / 0.1)[y[i]], rel=1e-10)


def test_cosine_head_outputs_cosines():
    head = MODELS.build(dict(type='CosineClsHead', num_classes=3,
                             in_channels=4))
    f = torch.randn(5, 4)
    w = head.weight.detach()
    want = np.array([[float(fi @ wj) / float(fi.norm() * wj.norm())
                      for wj in w] for fi in f])
    np.testing.assert_allclose(head((f, )).detach().numpy(), want, rtol=1e-5,
                               atol=1e-6)


def test_soft_triple_head_and_loss():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='SoftTripleHead', num_classes=3,
                             in_channels=4, num_centers=2, gamma=0.5,
                             tau=0.3, loss=dict(type='SoftTripleLoss',
                                                scale=7.0, margin=0.1)))
    head = head.double()
    f = torch.randn(4, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1])
    w = head.centers.detach().numpy().reshape(3, 2, 4)
    fn = f.numpy() / np.linalg.norm(f.numpy(), axis=1, keepdims=True)
    wn = w / np.linalg.norm(w, axis=2, keepdims=True)
    d = np.zeros((4, 3))
    for i in range(4):
        for c in range(3):
            s = np.array([fn[i] @ wn[c, k] for k in range(2)])
            p = np.exp(s / 0.5) / np.exp(s / 0.5).sum()
            d[i, c] = (p * s).sum()
    np.testing.assert_allclose(head((f, )).detach().numpy(), d, rtol=1e-10)
    reg = sum(math.sqrt(2 + 1e-5 - 2 * wn[c, 0] @ wn[c, 1])
              for c in range(3)) / (3 * 2 * 1)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(int(v)) for v in y]
    losses = head.loss((f, ), samples)
    ce = np.mean([-log_softmax_np(7.0 * (d[i] - 0.1 * np.eye(3)[y[i]]))[y[i]]
                  for i in range(4)])
    assert losses['loss'].item() == pytest.approx(ce, rel=1e-10)
    assert losses['loss_reg'].item() == pytest.approx(0.3 * reg, rel=1e-10)


# SoftTriple's code keeps the K centres of its C classes as the columns of
# a dim x (C * K) matrix and initialises it with kaiming_uniform_(a=sqrt(5)):
# gain sqrt(2 / (1 + 5)), fan = C * K (the second dimension), so every
# coordinate is uniform in [-b, b] with b = sqrt(3) * gain / sqrt(fan)
# = 1 / sqrt(C * K), and E|w|^2 = dim * b^2 / 3.
def source_centre_bound(num_classes, k=10):
    gain = math.sqrt(2.0 / (1 + 5))
    return math.sqrt(3.0) * gain / math.sqrt(num_classes * k)


def assert_source_centres(centers, dim, num_classes, k=10):
    bound = source_centre_bound(num_classes, k)
    assert tuple(centers.shape) == (num_classes * k, dim)
    peak = centers.detach().abs().max().item()
    assert 0.99 * bound < peak <= bound
    norm = math.sqrt(dim * bound**2 / 3)
    got = centers.detach().norm(dim=1).mean().item()
    assert got == pytest.approx(norm, rel=0.03)
    return norm


@pytest.mark.parametrize('head_type', ['SoftTripleHead', 'DSBSoftTripleHead'])
@pytest.mark.parametrize('dim,num_classes,norm', [
    (64, 100, 0.146), (512, 100, 0.413),  # CUB
    (64, 98, 0.148), (512, 98, 0.417),  # Cars196
    (64, 64, 0.183),  # mini-ImageNet
    (64, 60, 0.189),  # CIFAR-100
])
def test_soft_triple_centres_start_as_in_the_source(head_type, dim,
                                                    num_classes, norm):
    torch.manual_seed(0)
    head = MODELS.build(dict(type=head_type, num_classes=num_classes,
                             in_channels=1024, embed_dim=dim,
                             num_centers=10))
    want = assert_source_centres(head.centers, dim, num_classes)
    assert round(want, 3) == norm
    # Not the norm 1/sqrt(3) = 0.577 of a fan of dim.
    assert head.centers.detach().norm(dim=1).mean().item() < 0.45


def test_soft_triple_centres_are_the_source_draw():
    """Same seed, same numbers as the source's matrix, transposed."""
    dim, num_classes, k = 16, 7, 3
    torch.manual_seed(3)
    source = torch.empty(dim, num_classes * k)
    torch.nn.init.kaiming_uniform_(source, a=math.sqrt(5))
    torch.manual_seed(3)
    head = MODELS.build(dict(type='SoftTripleHead', num_classes=num_classes,
                             in_channels=dim, num_centers=k))
    assert torch.equal(head.centers.detach(), source.t())
    assert list(head.state_dict()) == ['centers']


@pytest.mark.parametrize('config,dim,num_classes,whole', [
    ('st_bn-inception-64_cub.py', 64, 100, True),
    ('dsb-st_bn-inception-512_cub.py', 512, 100, False),
    ('cb-st_bn-inception-64_cars196-lt-r20.py', 64, 98, False),
])
def test_soft_triple_centres_survive_init_weights(config, dim, num_classes,
                                                  whole):
    """The Runner builds the model and calls its ``init_weights`` (here
    without the backbone's ImageNet checkpoint; the head alone for the
    other configs, to stay fast): the centres keep their draw."""
    from mmengine.config import Config
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = Config.fromfile(os.path.join(root, 'configs', 'metric-learning',
                                       config))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model if whole else cfg.model.head)
    head = model.head if whole else model
    assert type(head).__name__.endswith('SoftTripleHead')
    assert (head.num_classes, head.num_centers) == (num_classes, 10)
    before = head.centers.detach().clone()
    model.init_weights()
    assert torch.equal(head.centers.detach(), before)
    assert_source_centres(head.centers, dim, num_classes)


def test_soft_triple_centres_untouched_by_an_init_cfg():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='SoftTripleHead', num_classes=100,
                             in_channels=32, embed_dim=64,
                             init_cfg=dict(type='Normal', layer='Linear',
                                           std=0.01)))
    before = head.centers.detach().clone()
    head.init_weights()
    assert head.embed.weight.detach().std().item() == pytest.approx(
        0.01, rel=0.1)
    assert torch.equal(head.centers.detach(), before)
    assert_source_centres(head.centers, 64, 100)


def test_kps_worked_vectors_cifar10_lt_r100():
    r, m, s = kps_parameters(torch.tensor(C10_R100), 50, 15, 0.5)
    np.testing.assert_allclose(r.numpy(), [
        2.1772, 2.0463, 1.9155, 1.7847, 1.6537, 1.5231, 1.3923, 1.2614,
        1.1296, 1.0000], atol=6e-5)
    np.testing.assert_allclose(m.numpy(), [
        0.2297, 0.2597, 0.2898, 0.3198, 0.3499, 0.3799, 0.4099, 0.4400,
        0.4702, 0.5000], atol=6e-5)
    np.testing.assert_allclose(s.numpy(), [
        15.0000, 16.9625, 18.9259, 20.8867, 22.8525, 24.8112, 26.7732,
        28.7373, 30.7144, 32.6578], atol=6e-5)
    # Closed form: r_max = 1 + ln(rho) / ln(50).
    assert r.max().item() == pytest.approx(1 + math.log(100) / math.log(50))


def kps_hand(x, y, counts, scale_of):
    n = np.array(counts, dtype=np.float64)
    rp = np.log(n * 50 / n.min())
    r = rp / rp.min()
    mp = r.max() + 1 - r
    m = mp * 0.5 / mp.max()
    out = []
    for i in range(len(y)):
        z = r * x[i]
        z[y[i]] -= m[y[i]]
        out.append(-log_softmax_np(scale_of(15 * mp, y[i]) * z)[y[i]])
    return np.array(out)


def test_kps_loss_before_and_after_ga():
    x, y = data(cosine=True)
    loss = build(dict(type='KPSLoss', ga_epoch=4, reduction='none'))
    loss.set_epoch(3, 10)
    np.testing.assert_allclose(
        loss(x, y).numpy(), kps_hand(x.numpy(), y.numpy(), COUNTS,
                                     lambda s, c: 15.0), rtol=1e-10)
    loss.set_epoch(4, 10)
    np.testing.assert_allclose(
        loss(x, y).numpy(), kps_hand(x.numpy(), y.numpy(), COUNTS,
                                     lambda s, c: s[c]), rtol=1e-10)


def test_kps_ga_gradient_uses_the_label_scale():
    """Eq. 3.23 with s_y: dL/dz_hat_i = s_y (p_i - [i = y])."""
    x, y = data(n=6, cosine=True)
    loss = build(dict(type='KPSLoss', ga_epoch=0, reduction='sum'))
    loss.set_epoch(0, 1)
    x = x.clone().requires_grad_()
    loss(x, y).backward()
    r, m, s = kps_parameters(torch.tensor(COUNTS))
    onehot = F.one_hot(y, C).double()
    z_hat = r * x.detach() - m * onehot
    p = F.softmax(s[y][:, None] * z_hat, dim=1)
    dz_hat = s[y][:, None] * (p - onehot)
    assert torch.allclose(x.grad, dz_hat * r, rtol=1e-10)  # chain rule via r


def test_gcl_cloud_sizes_and_loss():
    d = cloud_sizes(torch.tensor(C10_R100)).numpy()
    np.testing.assert_allclose(d, [0, .1111, .2223, .3334, .4447, .5556,
                                   .6667, .7780, .8899, 1], atol=1e-4)
    x, y = data(cosine=True)
    loss = build(dict(type='GCLLoss', scale=20.0, noise_std=0.7,
                      reduction='none'))
    torch.manual_seed(3)
    got = loss(x, y).numpy()
    torch.manual_seed(3)
    eps = (torch.randn(x.shape, dtype=torch.float64) * 0.7).numpy()
    assert (np.abs(eps) > 1).any()  # the clamp matters here
    eps = np.abs(np.clip(eps, -1, 1))
    n = np.array(COUNTS, dtype=np.float64)
    delta = (np.log(n.max()) - np.log(n)) / np.log(n.max() / n.min())
    for i in range(len(y)):
        z = x[i].numpy() - delta * eps[i]
        assert got[i] == pytest.approx(-log_softmax_np(20 * z)[y[i]],
                                       rel=1e-10)


def test_gcl_noise_only_lowers_logits_of_tail_classes():
    x, y = data(n=400, cosine=True)
    loss = build(dict(type='GCLLoss', reduction='none'))
    torch.manual_seed(0)
    clouded = loss(x, y)
    no_cloud = build(dict(type='GCLLoss', noise_mul=0.0,
                          reduction='none'))(x, y)
    # Lowering non-target tail logits can only help, target ones only hurt:
    # on average over many samples the clouded loss of tail samples is
    # larger than without the cloud, and head-class samples gain.
    assert clouded[y == C - 1].mean() > no_cloud[y == C - 1].mean()
    assert clouded[y == 0].mean() < no_cloud[y == 0].mean()


# ---------------------------------------------------------------- FBL
def fbl_head(double=True):
    torch.manual_seed(0)
    head = MODELS.build(dict(type='FBLClsHead', num_classes=C, in_channels=3))
    head.set_class_counts(COUNTS)
    head.set_epoch(4, 10)  # t = 5 of T = 10: alpha = 0.25
    return head.double() if double else head


def test_fbl_logits_in_training_and_raw_in_eval():
    head = fbl_head()
    f = torch.randn(6, 3, dtype=torch.float64)
    w, b = head.fc.weight.detach().numpy(), head.fc.bias.detach().numpy()
    lam = np.log(max(COUNTS)) - np.log(np.array(COUNTS, dtype=np.float64))
    got = head.train()((f, )).detach().numpy()
    for i in range(6):
        fi = f[i].numpy()
        z = w @ fi + b - 0.25 * lam / np.linalg.norm(fi)
        np.testing.assert_allclose(got[i], z, rtol=1e-10)
    np.testing.assert_allclose(head.eval()((f, )).detach().numpy(),
                               f.numpy() @ w.T + b, rtol=1e-10)


def test_fbl_gradient_flows_through_the_feature_norm():
    head = fbl_head().train()
    f = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 4, 3, 1])

    def loss_of(feat):
        return F.cross_entropy(head((feat, )), y, reduction='sum')

    assert torch.autograd.gradcheck(loss_of, (f, ))
    loss_of(f).backward()
    # Hand gradient: dL/df = sum_j (p_j - [j=y]) (w_j + alpha lam_j f/|f|^3)
    w = head.fc.weight.detach()
    lam = torch.log(torch.tensor(max(COUNTS) / np.array(COUNTS)))
    p = F.softmax(head((f.detach(), )), dim=1)
    err = p - F.one_hot(y, C).double()
    norm = f.detach().norm(dim=1, keepdim=True)
    want = err @ w + (err @ (0.25 * lam))[:, None] * f.detach() / norm**3
    assert torch.allclose(f.grad, want, rtol=1e-10)
    assert not torch.allclose(f.grad, err @ w)  # the norm term matters


def test_fbl_alpha_schedules():
    head = fbl_head(double=False)
    assert head.alpha() == pytest.approx(0.25)
    head.set_epoch(9, 10)
    assert head.alpha() == pytest.approx(1.0)
    head.alpha_schedule = 'sine'
    head.set_epoch(4, 10)
    assert head.alpha() == pytest.approx(math.sin(0.25 * math.pi))


# --------------------------------------------------------------- CBEN
def test_cben_worked_vector_cifar10_lt_r100():
    g = cben_class_probabilities(C10_R100).numpy()
    np.testing.assert_allclose(g, [
        0.0190, 0.0182, 0.0198, 0.0249, 0.0352, 0.0535, 0.0850, 0.1383,
        0.2287, 0.3775], atol=6e-5)
    assert g.sum() == pytest.approx(1.0)


class _Labels:

    def __init__(self, labels):
        self.labels = np.asarray(labels)
        self.metainfo = {}

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


def test_cben_sampler_draws_classes_as_n_gamma(monkeypatch):
    labels = np.repeat(np.arange(C), COUNTS)
    sampler = CBENSampler(_Labels(labels), num_samples=20000, seed=1)
    idx = np.array(list(sampler))
    assert len(idx) == len(sampler) == 20000
    freq = np.bincount(labels[idx], minlength=C) / len(idx)
    g = cben_class_probabilities(COUNTS).numpy()
    want = np.array(COUNTS) * g / (np.array(COUNTS) * g).sum()
    np.testing.assert_allclose(freq, want, atol=0.015)
    assert list(sampler) == list(idx)  # deterministic
    sampler.set_epoch(1)
    assert list(sampler) != list(idx)
    # Two ranks split one global sequence.
    import mmdsb.datasets.samplers as mod
    parts = []
    for rank in (0, 1):
        monkeypatch.setattr(mod, 'get_dist_info', lambda r=rank: (r, 2))
        s = CBENSampler(_Labels(labels), num_samples=11, seed=1)
        parts.append(list(s))
        assert len(s) == 6
    merged = [v for pair in zip(*parts) for v in pair]
    monkeypatch.setattr(mod, 'get_dist_info', lambda: (0, 1))
    assert merged == list(CBENSampler(_Labels(labels), num_samples=12,
                                      seed=1))


# ---------------------------------------------------------------- DSB
LOSSES = [
    dict(type='ClassBalancedLoss', gamma=1.0),
    dict(type='LDAMLoss'),
    dict(type='LogitAdjustedLoss', tau=0.7),
    dict(type='BalancedSoftmaxLoss'),
    dict(type='LADELoss'),
    dict(type='NormSoftmaxLoss'),
    dict(type='SoftTripleLoss'),
    dict(type='KPSLoss'),
    dict(type='SoftmaxFocalLoss'),
]


@pytest.mark.parametrize('cfg', LOSSES, ids=[c['type'] for c in LOSSES])
def test_dsb_form_is_mean_of_weighted_loss(cfg):
    x, y = data(cosine=True)
    loss = MODELS.build(cfg)
    if hasattr(loss, 'set_class_counts'):
        loss.set_class_counts(COUNTS)
    a = torch.rand(C, dtype=torch.float64) + 0.5
    got = loss(x, y, weight=a[y], avg_factor=len(y))
    per_sample = loss(x, y, reduction_override='none') if cfg['type'] != \
        'LADELoss' else MODELS.build(dict(type='BalancedSoftmaxLoss',
                                          class_counts=COUNTS,
                                          reduction='none'))(x, y)
    want = (a[y] * per_sample).mean()
    if cfg['type'] == 'LADELoss':  # the regulariser is not per sample
        want = want + loss.extra_loss(x, F.one_hot(y, C).double())
    # SoftmaxFocalLoss computes in float32, the others keep float64.
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_dsb_gcl_is_mean_of_weighted_loss():
    x, y = data(cosine=True)
    loss = build(dict(type='GCLLoss'))
    a = torch.rand(C, dtype=torch.float64) + 0.5
    torch.manual_seed(5)
    got = loss(x, y, weight=a[y], avg_factor=len(y))
    torch.manual_seed(5)
    want = (a[y] * loss(x, y, reduction_override='none')).mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-10)


def test_soft_targets_reduce_to_hard_labels():
    x, y = data(cosine=True)
    for cfg in LOSSES + [dict(type='GCLLoss', noise_mul=0.0)]:
        loss = MODELS.build(dict(cfg, reduction='none')) if cfg['type'] \
            != 'LADELoss' else MODELS.build(dict(cfg))
        if hasattr(loss, 'set_class_counts'):
            loss.set_class_counts(COUNTS)
        hard, soft = loss(x, y), loss(x, F.one_hot(y, C).double())
        assert torch.allclose(hard, soft, rtol=1e-12), cfg['type']


# ---------------------------------------------------------- bad input
@pytest.mark.parametrize('counts,match', [
    ([5, 0, 3, 2, 1], 'class 1 has 0'),
    ([5, -2, 3, 2, 1], 'class 1 has -2'),
    ([5, 3], '2 class counts but the scores have 5'),
])
def test_bad_counts(counts, match):
    x, y = data()
    for t in ('ClassBalancedLoss', 'BalancedSoftmaxLoss', 'KPSLoss',
              'GCLLoss', 'LDAMLoss', 'LADELoss', 'LogitAdjustedLoss'):
        with pytest.raises(ValueError, match=match):
            MODELS.build(dict(type=t, class_counts=counts))(x, y)
    if len(counts) == C:
        with pytest.raises(ValueError, match=match):
            cben_class_probabilities(counts)


def test_missing_counts_name_the_hook():
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        MODELS.build(dict(type='KPSLoss'))(*data())
    head = MODELS.build(dict(type='FBLClsHead', num_classes=C, in_channels=3))
    head.set_epoch(0, 2)
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        head((torch.randn(2, 3), ))
    with pytest.raises(ValueError, match='3 class counts but the model has 5'):
        head.set_class_counts([3, 2, 1])


@pytest.mark.parametrize('cfg,match', [
    (dict(type='NormSoftmaxLoss', temperature=0), 'temperature'),
    (dict(type='NormSoftmaxLoss', temperature=-0.1), 'temperature'),
    (dict(type='LogitAdjustedLoss', tau=0), 'tau'),
    (dict(type='SoftTripleHead', num_classes=3, in_channels=4,
          num_centers=0), r'num_centers \(K\)'),
    (dict(type='SoftTripleHead', num_classes=3, in_channels=4, gamma=0),
     'temperature gamma'),
    (dict(type='SoftTripleLoss', scale=-1), 'scale'),
    (dict(type='LDAMLoss', scale=0), 'scale'),
    (dict(type='KPSLoss', s_base=0), 's_base'),
    (dict(type='KPSLoss', n_base=1), 'n_base'),
    (dict(type='GCLLoss', noise_std=0), 'noise_std'),
    (dict(type='ClassBalancedLoss', beta=1.0), 'beta'),
    (dict(type='FBLClsHead', num_classes=3, in_channels=4,
          alpha_schedule='cubic'), 'alpha_schedule'),
    (dict(type='CosineClsHead', num_classes=0, in_channels=4),
     'num_classes'),
])
def test_bad_hyper_parameters(cfg, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)
