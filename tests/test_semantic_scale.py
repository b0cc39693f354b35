import math

import numpy as np
import pytest
import torch

from mmdsb.semantic_scale import (class_volumes, dsb_weights, feature_volume,
                                  scales_from_volumes, semantic_scales,
                                  usable)


def reference_volume(x: np.ndarray, eps: float = 1.0) -> float:
    """Eq. 3 through the eigenvalues of the biased covariance, float64."""
    x = np.asarray(x, dtype=np.float64)
    m, d = x.shape
    if m <= 1:
        return 0.0
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / m
    eig = np.linalg.eigvalsh(np.eye(d) + d / eps**2 * cov)
    return 0.5 * float(np.sum(np.log2(eig)))


def reference_scales(x, y, num_classes, alpha):
    vols = np.array([reference_volume(x[y == c]) for c in range(num_classes)])
    s_prime = vols / vols.max()
    centres = np.stack([x[y == c].mean(0) for c in range(num_classes)])
    w = np.array([
        sum(np.linalg.norm(centres[i] - centres[j])
            for j in range(num_classes)) / (num_classes - 1)
        for i in range(num_classes)
    ])
    return s_prime * np.log2(alpha + w / w.max())


@pytest.mark.parametrize('m,d', [(40, 8), (5, 16), (2, 3), (300, 64),
                                 (20, 2048), (2100, 2048)])
def test_feature_volume_matches_eigenvalue_reference(m, d):
    rng = np.random.default_rng(m * 7 + d)
    x = rng.normal(size=(m, d)) * rng.uniform(0.1, 3, size=d) + 5
    got = feature_volume(torch.from_numpy(x)).item()
    assert got == pytest.approx(reference_volume(x), rel=1e-9)
    got_eps = feature_volume(torch.from_numpy(x), eps=10.0).item()
    assert got_eps == pytest.approx(reference_volume(x, 10.0), rel=1e-9)


def test_feature_volume_single_sample_is_zero_and_hand_value():
    assert feature_volume(torch.ones(1, 5)).item() == 0.0
    # Two points at distance 2 along one axis in d = 2: the covariance is
    # diag(1, 0), so Vol = 1/2 log2((1 + 2 * 1) * 1) = 1/2 log2(3).
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert feature_volume(x).item() == pytest.approx(0.5 * math.log2(3))


def test_feature_volume_large_d_is_finite_where_det_overflows():
    x = torch.randn(500, 2048, dtype=torch.float64) * 10
    naive = torch.linalg.det(
        torch.eye(2048, dtype=torch.float64) +
        2048 / 500 * torch.cov(x.T, correction=0))
    assert not torch.isfinite(naive)
    assert torch.isfinite(feature_volume(x))


def test_class_volumes_and_scales_match_reference():
    rng = np.random.default_rng(0)
    counts = [60, 25, 9, 3, 1, 0, 17]
    y = np.repeat(np.arange(7), counts)
    x = rng.normal(size=(len(y), 12)) * (1 + y[:, None]) + y[:, None]
    vols = class_volumes(torch.from_numpy(x), torch.from_numpy(y), 7)
    expected = [reference_volume(x[y == c]) for c in range(7)]
    np.testing.assert_allclose(vols.numpy(), expected, rtol=1e-10)
    assert vols[4] == 0 and vols[5] == 0

    keep = np.isin(y, [0, 1, 2, 3, 6])
    xs, ys = x[keep], np.searchsorted([0, 1, 2, 3, 6], y[keep])
    for alpha in (1.0, 2.0, 3.0):
        got = semantic_scales(torch.from_numpy(xs), torch.from_numpy(ys), 5,
                              alpha=alpha)
        np.testing.assert_allclose(got.numpy(),
                                   reference_scales(xs, ys, 5, alpha),
                                   rtol=1e-10)
    no_w = semantic_scales(torch.from_numpy(xs), torch.from_numpy(ys), 5,
                           interclass=False)
    ref_vols = np.array([reference_volume(xs[ys == c]) for c in range(5)])
    np.testing.assert_allclose(no_w.numpy(), ref_vols / ref_vols.max(),
                               rtol=1e-10)


def test_dsb_weights_normalisation_fallback_and_cap():
    scales = torch.tensor([0.5, 1.0, 2.0, 0.0, float('nan')],
                          dtype=torch.float64)
    # 1/S = [2, 1, 0.5]; the two classes without a scale get the max, 2.
    raw = np.array([2, 1, 0.5, 2, 2])
    np.testing.assert_allclose(dsb_weights(scales), raw * 5 / raw.sum())
    np.testing.assert_allclose(dsb_weights(scales, 'sum'), raw / raw.sum())
    capped = np.minimum(raw, 0.5 * 3)
    np.testing.assert_allclose(dsb_weights(scales, max_ratio=3),
                               capped * 5 / capped.sum())
    assert torch.equal(dsb_weights(torch.zeros(4)), torch.ones(4).double())


@pytest.mark.parametrize('call,message', [
    (lambda: feature_volume(torch.randn(4, 3), eps=0), 'eps'),
    (lambda: feature_volume(torch.tensor([[1.0, float('nan')]])), 'NaN'),
    (lambda: feature_volume(torch.randn(3)), '2-D'),
    (lambda: class_volumes(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]), 3),
     r'\[0, 3\)'),
    (lambda: class_volumes(torch.randn(4, 3), torch.tensor([0, 1]), 3),
     'one entry per'),
    (lambda: semantic_scales(torch.randn(4, 3), torch.zeros(4).long(), 2,
                             alpha=0.5), 'alpha'),
    (lambda: dsb_weights(torch.ones(3), normalize='max'), 'normalize'),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize('noise', [1e-9, -1e-9, 0.0])
def test_collapsed_volume_of_either_sign_is_no_scale(noise):
    # Features collapsed to one point have a volume of rounding size whose
    # sign is chance; it must not give a weight C times the others'.
    volumes = torch.tensor([40.0, 20.0, 10.0, noise], dtype=torch.float64)
    scales = scales_from_volumes(volumes, interclass=False)
    assert scales.tolist() == [1.0, 0.5, 0.25, 0.0]
    weights = dsb_weights(scales)
    # Hand computation: 1/S = 1, 2, 4; the collapsed class gets the largest.
    assert weights.tolist() == pytest.approx(
        [x * 4 / 11 for x in (1, 2, 4, 4)], rel=1e-12)
    # Scales themselves with a rounding-size entry, on both sides of zero.
    assert dsb_weights(torch.tensor([1.0, 0.5, 0.25, noise])).tolist() == \
        pytest.approx([x * 4 / 11 for x in (1, 2, 4, 4)], rel=1e-12)


def test_usable_tolerance_is_relative_to_the_largest():
    volumes = torch.tensor([2e-7, 1.0, 3e-6, -1.0, float('nan')])
    assert usable(volumes).tolist() == [False, True, True, False, False]
    # Scaled down by 1e-6 together, the same classes stay usable.
    assert usable(volumes * 1e-6).tolist() == [False, True, True, False,
                                               False]
    assert usable(volumes, rtol=0).tolist() == [True, True, True, False,
                                                False]
    with pytest.raises(ValueError, match='rtol'):
        usable(volumes, rtol=1.0)


def test_exactly_collapsed_class_in_the_bank_gets_the_fallback_weight():
    from mmdsb.engine import SemanticScaleWeighter
    g = torch.Generator().manual_seed(0)
    weighter = SemanticScaleWeighter(bank_dim=8, interclass=False)
    weighter.init_bank(capacity=90, num_classes=3, device='cpu')
    # Class 2: 30 copies of one point (on both sides of zero); its volume
    # is rounding noise around 0.
    point = torch.tensor([[3.7, -1.3, 0.1, -9.9, 5.5, -0.2, 2.4, -4.1]])
    labels = torch.tensor([0] * 30 + [1] * 30 + [2] * 30)
    feats = torch.cat([torch.randn(30, 8, generator=g),
                       2 * torch.randn(30, 8, generator=g),
                       point.expand(30, 8)])
    weighter.observe(feats, labels)
    volumes = weighter.bank.volumes()
    assert abs(volumes[2]) < 1e-6 * volumes.max()
    weights = weighter.class_weights()
    s = [volumes[0] / volumes[1], 1.0]  # S of classes 0 and 1
    expected = torch.tensor([1 / s[0], 1 / s[1], 1 / s[0]])
    expected *= 3 / expected.sum()
    assert weights.tolist() == pytest.approx(expected.tolist(), rel=1e-9)
