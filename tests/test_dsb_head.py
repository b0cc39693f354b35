"""DSB heads and losses against hand computations of their formulas."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine import SemanticScaleWeighter
from mmdsb.semantic_scale import dsb_weights, semantic_scales

C, IN = 5, 96


def make_heads(loss=dict(type='CrossEntropyLoss')):
    torch.manual_seed(0)
    plain = MODELS.build(
        dict(type='LinearClsHead', num_classes=C, in_channels=IN, loss=loss))
    dsb = MODELS.build(
        dict(type='DSBLinearClsHead', num_classes=C, in_channels=IN,
             loss=loss))
    dsb.load_state_dict(plain.state_dict())
    weighter = SemanticScaleWeighter(alpha=2.0, bank_dim=16)
    weighter.init_bank(capacity=200, num_classes=C, device='cpu')
    dsb.dsb_weighter = weighter
    return plain.train(), dsb.train(), weighter


def batch(n=24, seed=0, soft=False):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % C
    feats = torch.randn(n, IN, generator=g) + labels[:, None] * 0.3
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    if soft:
        scores = torch.rand(n, C, generator=g)
        scores /= scores.sum(1, keepdim=True)
        for s, t in zip(samples, scores):
            s.set_gt_score(t)
    return (feats, ), samples


def fill(weighter, dsb, rounds=6):
    for seed in range(rounds):
        feats, samples = batch(seed=100 + seed)
        dsb.loss(feats, samples)


def pooled(weighter):
    feats, labels = weighter.bank.ordered()
    return feats, labels


@pytest.mark.parametrize('stage', [1, 2])
def test_loss_equals_plain_head_outside_stage_3(stage):
    plain, dsb, weighter = make_heads()
    weighter.stage = stage
    feats, samples = batch()
    assert torch.equal(
        dsb.loss(feats, samples)['loss'], plain.loss(feats, samples)['loss'])
    assert len(weighter.bank) == 24


def test_stage_3_loss_is_mean_of_class_weighted_ce():
    plain, dsb, weighter = make_heads()
    fill(weighter, dsb)
    weighter.stage = 3
    feats, samples = batch(seed=7)
    loss = dsb.loss(feats, samples)['loss']
    # Reference: weights from the pool after this batch entered it.
    pool_feats, pool_labels = pooled(weighter)
    a = dsb_weights(semantic_scales(pool_feats, pool_labels, C, alpha=2.0))
    labels = torch.cat([s.gt_label for s in samples])
    logits = plain(feats).double()
    per_sample = F.cross_entropy(logits, labels, reduction='none')
    expected = (a[labels] * per_sample).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert a.mean().item() == pytest.approx(1.0)
    assert a.std() > 0.01  # the weights are not trivially uniform


def test_stage_3_soft_targets_use_target_weighted_class_weights():
    plain, dsb, weighter = make_heads()
    fill(weighter, dsb)
    weighter.stage = 3
    feats, samples = batch(seed=9, soft=True)
    loss = dsb.loss(feats, samples)['loss']
    pool_feats, pool_labels = pooled(weighter)
    # The bank got the argmax labels of the soft targets.
    target = torch.stack([s.gt_score for s in samples]).double()
    assert torch.equal(pool_labels[-24:], target.argmax(1))
    a = dsb_weights(semantic_scales(pool_feats, pool_labels, C))
    w = (target * a).sum(1) / target.sum(1)
    soft_ce = -(target * F.log_softmax(plain(feats).double(), 1)).sum(1)
    assert loss.item() == pytest.approx((w * soft_ce).mean().item(),
                                        rel=1e-5)


def test_softmax_focal_loss_plain_and_dsb():
    loss_cfg = dict(type='SoftmaxFocalLoss', gamma=2.0, alpha=0.5)
    plain, dsb, weighter = make_heads(loss_cfg)
    feats, samples = batch(seed=3)
    labels = torch.cat([s.gt_label for s in samples])
    p = F.softmax(plain(feats).double(), 1)[torch.arange(24), labels]
    focal = -0.5 * (1 - p)**2 * torch.log(p)
    weighter.stage = 2
    assert dsb.loss(feats, samples)['loss'].item() == pytest.approx(
        focal.mean().item(), rel=1e-5)
    fill(weighter, dsb)
    weighter.stage = 3
    loss = dsb.loss(feats, samples)['loss']
    pool_feats, pool_labels = pooled(weighter)
    a = dsb_weights(semantic_scales(pool_feats, pool_labels, C))
    assert loss.item() == pytest.approx((a[labels] * focal).mean().item(),
                                        rel=1e-5)
    with pytest.raises(ValueError, match='gamma'):
        MODELS.build(dict(type='SoftmaxFocalLoss', gamma=-1))


def test_nan_features_stay_out_of_the_bank():
    _, dsb, weighter = make_heads()
    feats, samples = batch()
    feats[0][3, 5] = float('nan')
    feats[0][7] = float('inf')
    dsb.loss(feats, samples)
    pool_feats, pool_labels = pooled(weighter)
    assert pool_feats.shape[0] == 22 and torch.isfinite(pool_feats).all()
    assert torch.isfinite(weighter.semantic_scales()).all()


def test_bad_input_errors():
    _, dsb, weighter = make_heads()
    feats, samples = batch()
    samples[0].set_gt_label(C)
    with pytest.raises(ValueError, match=r'\[0, 5\)'):
        dsb.loss(feats, samples)
    feats, samples = batch()
    dsb.loss(feats, samples)
    with pytest.raises(ValueError, match='dimension changed'):
        weighter.observe(torch.randn(4, IN + 8), torch.zeros(4).long())
    lonely = MODELS.build(
        dict(type='DSBLinearClsHead', num_classes=C, in_channels=IN))
    with pytest.raises(RuntimeError, match='DSBHook'):
        lonely.loss(*batch())
    for kwargs, name in ((dict(alpha=0.5), 'alpha'), (dict(eps=0), 'eps'),
                         (dict(bank_dim=0), 'bank_dim'),
                         (dict(normalize='l2'), 'normalize')):
        with pytest.raises(ValueError, match=name):
            SemanticScaleWeighter(**kwargs)


@pytest.mark.parametrize('name', [
    'DSBLinearClsHead', 'DSBStackedLinearClsHead',
    'DSBVisionTransformerClsHead'
])
def test_generated_heads_keep_the_wrapped_head_state_dict(name):
    cfg = dict(type=name, num_classes=C, in_channels=IN)
    if name == 'DSBStackedLinearClsHead':
        cfg['mid_channels'] = [32]
    head = MODELS.build(cfg)
    plain = MODELS.build(dict(cfg, type=name[3:]))
    assert head.state_dict().keys() == plain.state_dict().keys()


def test_weights_and_weighted_loss_are_float32_under_bf16_autocast():
    plain, dsb, weighter = make_heads()
    fill(weighter, dsb)
    weighter.stage = 3
    feats, samples = batch(seed=7)
    seen = {}

    def record(module, args, kwargs):
        seen.update(score=args[0].dtype, weight=kwargs['weight'])

    dsb.loss_module.register_forward_pre_hook(record, with_kwargs=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = dsb.loss(feats, samples)['loss']
        logits = plain(feats)
    assert seen['score'] == logits.dtype == torch.bfloat16
    assert seen['weight'].dtype == torch.float32
    assert loss.dtype == torch.float32
    # Reference in float64 from the same bf16 logits and the float64 class
    # weights: quantising the weights to bf16 (steps of 2^-9) would be off
    # by about 1e-3.
    pool_feats, pool_labels = pooled(weighter)
    a = dsb_weights(semantic_scales(pool_feats, pool_labels, C, alpha=2.0))
    labels = torch.cat([s.gt_label for s in samples])
    per_sample = F.cross_entropy(logits.double(), labels, reduction='none')
    expected = (a[labels] * per_sample).mean().item()
    assert loss.item() == pytest.approx(expected, rel=2e-6)
    quantised = (a[labels].bfloat16().double() * per_sample).mean().item()
    assert abs(quantised - expected) > 1e-5 * expected
