"""A nearly collapsed class cannot take the weight of all others: the
default ``max_weight_ratio`` caps it, and the weighter says so."""
import numpy as np
import torch

from mmdsb.engine import SemanticScaleWeighter

C, D, PER_CLASS = 4, 8, 40


def collapsed_bank_weighter(**kwargs):
    """A full bank whose class 0 is nearly collapsed (tiny spread)."""
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(C * PER_CLASS, D, generator=gen)
    labels = torch.arange(C).repeat_interleave(PER_CLASS)
    feats[labels == 0] = 1.0 + 1e-2 * feats[labels == 0]
    weighter = SemanticScaleWeighter(bank_dim=D, **kwargs)
    weighter.init_bank(C * PER_CLASS, C, torch.device('cpu'))
    weighter.observe(feats, labels)
    weighter.stage = 3
    return weighter


def test_collapsed_class_is_usable_but_capped(capsys):
    uncapped = collapsed_bank_weighter(max_weight_ratio=None)
    scales = uncapped.semantic_scales().double().numpy()
    # Class 0 still counts as usable, with a tiny scale ...
    assert 0 < scales[0] / scales.max() < 1e-3
    # ... and without a cap it takes nearly all of the weight.
    inv = 1 / scales
    expected = inv * C / inv.sum()
    np.testing.assert_allclose(uncapped.class_weights().numpy(), expected,
                               rtol=1e-6)
    assert expected[0] > 3.99 and expected[1:].max() < 0.01

    weighter = collapsed_bank_weighter()
    assert weighter.max_weight_ratio == 10.0
    # By hand: 1 / S, class 0 capped at 10 x the smallest, mean 1.
    capped = np.minimum(inv, 10 * inv.min())
    capped *= C / capped.sum()
    weights = weighter.class_weights().numpy()
    np.testing.assert_allclose(weights, capped, rtol=1e-6)
    assert abs(weights.max() / weights.min() - 10) < 1e-6
    assert weighter.pop_warning_counts()['capped_weights'] == 1


def test_cap_leaves_ordinary_classes_alone():
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(C * PER_CLASS, D, generator=gen)
    labels = torch.arange(C).repeat_interleave(PER_CLASS)
    feats *= (1 + labels)[:, None].float()  # spreads 1 to 4
    weighter = SemanticScaleWeighter(bank_dim=D)
    weighter.init_bank(C * PER_CLASS, C, torch.device('cpu'))
    weighter.observe(feats, labels)
    inv = 1 / weighter.semantic_scales().double().numpy()
    np.testing.assert_allclose(weighter.class_weights().numpy(),
                               inv * C / inv.sum(), rtol=1e-6)
    assert weighter.pop_warning_counts()['capped_weights'] == 0
