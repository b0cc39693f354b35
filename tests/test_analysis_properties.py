"""The paper's qualitative properties of the semantic scale, and the
analysis functions, on generated data with known answers."""
import math

import numpy as np
import pytest
import torch

from mmdsb.analysis import (ClassStats, class_table, collection_curve,
                            correlations, effective_number, marginal_curves,
                            overall_accuracy, parent_ratios, pearson,
                            per_class_accuracy, pizza_subset, prefix_volumes,
                            size_grid, subset_volumes)
from mmdsb.semantic_scale import (class_volumes, feature_volume,
                                  semantic_scales)


def torus(n=2000, seed=0):
    """Points on a torus surface in 3-D (a stand-in for the paper's
    Stanford point clouds), with a little noise."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    v = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    ring = 1.0 + 0.4 * torch.cos(v)
    pts = torch.stack([ring * torch.cos(u), ring * torch.sin(u),
                       0.4 * torch.sin(v)], 1)
    return pts + 0.01 * torch.randn(n, 3, generator=g, dtype=torch.float64)


def gaussian(n, d=16, seed=0, mean=None):
    """Samples of a fixed anisotropic Gaussian (eigenvalues 0.1 .. 10) and
    its covariance."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g,
                                       dtype=torch.float64))
    root = q @ torch.diag(torch.logspace(-1, 1, d, dtype=torch.float64)
                          .sqrt())
    x = torch.randn(n, d, generator=g, dtype=torch.float64) @ root.T
    return (x if mean is None else x + mean), root @ root.T


def test_volume_grows_monotonically_and_slowly_when_scaled_up():
    """App. C: scaling a point cloud by s about its centre."""
    pts = torus()
    centre = pts.mean(0)
    vols = [float(feature_volume(s * (pts - centre) + centre))
            for s in range(1, 11)]
    steps = np.diff(vols)
    assert (steps > 0).all()
    assert (np.diff(steps) < 0).all()  # each step adds less: log-like
    # The Euclidean volume grows 1000-fold; the measure only
    # ~log2(s^d) bits: det(I + s^2 A) <= s^(2d) det(I + A) for s >= 1.
    for s, v in enumerate(vols, 1):
        assert v - vols[0] <= 3 * math.log2(s) + 1e-9
    assert vols[-1] / vols[0] < 10
    # Doubling the scale adds almost exactly d = 3 bits once the cloud is
    # large against the packing spheres.
    assert 2.5 < vols[9] - vols[4] <= 3.0


def test_volume_saturates_as_samples_are_added():
    """Sec. 3.3: the volume of more and more samples of one distribution
    levels off at 1/2 log2 det(I + d Sigma)."""
    x, cov = gaussian(6400)
    sizes = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 6400]
    vols = prefix_volumes(x, sizes)
    limit = 0.5 * torch.logdet(torch.eye(16, dtype=torch.float64) +
                               16 * cov) / math.log(2)
    assert float(vols[-1]) == pytest.approx(float(limit), rel=0.01)
    early = float(vols[2] - vols[0])  # 4 -> 16 samples
    late = float(vols[-1] - vols[6])  # 256 -> 6400 samples
    assert early > 10 * abs(late)
    rel = (vols[7:] - vols[6:-1]).abs() / vols[7:]
    assert (rel < 0.015).all()
    # Each prefix volume is the volume of those samples.
    assert float(vols[3]) == pytest.approx(float(feature_volume(x[:32])))


def test_parent_class_is_larger_than_each_child_and_is_matched():
    """Fig. 1 / App. K: a parent manifold contains its children's."""
    d = 8
    means = [torch.zeros(d), torch.full((d, ), 4.0),
             torch.cat([torch.full((4, ), -4.0), torch.zeros(4)]),
             torch.cat([torch.zeros(4), torch.full((4, ), 6.0)])]
    means = [m.double() for m in means]
    child = [gaussian(300, d, seed=i, mean=m)[0]
             for i, m in enumerate(means)]
    parent = torch.cat(child)
    v_parent = float(feature_volume(parent))
    assert all(v_parent > float(feature_volume(c)) for c in child)

    # Separately collected parents: A holds children 0 and 1, B 2 and 3.
    new = [gaussian(400, d, seed=10 + i, mean=m)[0]
           for i, m in enumerate(means)]
    parents = {'A': torch.cat(new[:2]), 'B': torch.cat(new[2:])}
    res = parent_ratios({f'c{i}': c for i, c in enumerate(child)}, parents)
    assert res['matched'] == {'c0': 'A', 'c1': 'A', 'c2': 'B', 'c3': 'B'}
    for name, c in zip(['c0', 'c1', 'c2', 'c3'], child):
        for p, xp in parents.items():
            expect = float(feature_volume(torch.cat([xp, c]))) / float(
                feature_volume(xp))
            assert res['ratios'][name][p] == pytest.approx(expect, rel=1e-9)
    assert res['ratios']['c0']['A'] < 1.05 < res['ratios']['c0']['B']
    with pytest.raises(ValueError, match='at least 2'):
        parent_ratios({'c': child[0]}, {'P': child[0][:1]})


def test_collection_stops_when_the_increment_falls_below_alpha():
    x, _ = gaussian(1000, seed=3)
    res = collection_curve(x, step=50, alpha=1.0)
    assert res['counts'] == list(range(50, 1001, 50))
    expect = [float(feature_volume(x[:m])) for m in res['counts']]
    assert res['volumes'] == pytest.approx(expect, rel=1e-9)
    rel = [None] + [(b - a) / b for a, b in zip(expect, expect[1:])]
    assert res['rel_increments'][1:] == pytest.approx(rel[1:], rel=1e-9)
    stop = res['stop_step']
    assert stop is not None and stop > 1
    assert rel[stop - 1] < 0.01
    assert all(r >= 0.01 for r in rel[1:stop - 1])
    assert res['stop_count'] == 50 * stop
    # A threshold never reached: keep collecting.
    assert collection_curve(x[:100], 50, alpha=0.001)['stop_step'] is None
    with pytest.raises(ValueError, match='step'):
        collection_curve(x, 0)


def test_marginal_curves_in_dataset_and_random_order():
    x, _ = gaussian(90, d=6, seed=4)
    labels = torch.tensor([0] * 60 + [1] * 30)
    sizes = size_grid(60, step=15)
    assert sizes == [15, 30, 45, 60]
    res = marginal_curves(x, labels, [0, 1], sizes, order_seed=None)
    assert res['curves'][1][2:] == [None, None]
    for m, v0, total in zip(sizes, res['curves'][0], res['total']):
        assert v0 == pytest.approx(float(feature_volume(x[:m])))
        # Class 1 adds all its 30 samples once m exceeds its size.
        v1 = float(feature_volume(x[60:60 + min(m, 30)]))
        assert total == pytest.approx(v0 + v1)
    shuffled = marginal_curves(x, labels, [0], [60], order_seed=1)
    assert shuffled['curves'][0][0] == pytest.approx(
        float(feature_volume(x[:60])))  # order does not change the whole
    assert size_grid(1) == []
    assert size_grid(50, points=5) == [2, 14, 26, 38, 50]


def test_pizza_subset_keeps_the_largest_of_the_drawn_subsets():
    x, _ = gaussian(200, d=10, seed=5)
    gen = torch.Generator().manual_seed(0)
    res = pizza_subset(x, 40, k=8, rounds=4, generator=gen)
    assert len(res['index']) == 40 == len(set(res['index']))
    assert res['volume'] == pytest.approx(
        float(feature_volume(x[res['index']])))
    assert res['volume'] >= res['random_mean']
    assert res['round_best'] == sorted(res['round_best'])
    assert res['round_best'][-1] == res['volume']
    assert res['full_volume'] == pytest.approx(float(feature_volume(x)))
    # Reproducible with the same seed.
    again = pizza_subset(x, 40, 8, 4, generator=torch.Generator()
                         .manual_seed(0))
    assert again['index'] == res['index']
    subsets = torch.stack([torch.arange(0, 40), torch.arange(100, 140)])
    vols = subset_volumes(x, subsets)
    assert vols.tolist() == pytest.approx(
        [float(feature_volume(x[:40])), float(feature_volume(x[100:140]))])
    with pytest.raises(ValueError, match='subset size'):
        pizza_subset(x, 201)


def test_class_table_and_correlations_match_the_semantic_scale_api():
    x, _ = gaussian(160, d=12, seed=6)
    labels = torch.tensor([0] * 80 + [1] * 50 + [2] * 25 + [3] * 4 + [4])
    x[80:130] *= 2.0  # class 1: larger spread
    stats = ClassStats(x, labels, 6)
    rows = class_table(stats, list('abcdef'), alpha=1.5, beta=0.99)
    vols = class_volumes(x, labels, 6)
    s = semantic_scales(x, labels, 6, alpha=1.5)
    for i, row in enumerate(rows[:4]):
        assert row['volume'] == pytest.approx(float(vols[i]))
        assert row["S'"] == pytest.approx(float(vols[i] / vols.max()))
        assert row['S'] == pytest.approx(float(s[i]))
        assert row['S'] == pytest.approx(row["S'"] * row['W'])
        assert row['E_n'] == pytest.approx((1 - 0.99**row['N']) / 0.01)
    # One sample (e) and none (f): volume 0, no S' or S.
    assert rows[4]['N'] == 1 and rows[4]['S'] is None
    assert rows[4]['volume'] == 0 and rows[4]['W'] is not None
    assert rows[5]['N'] == 0 and rows[5]['W'] is None
    assert max(r['S'] for r in rows[:4]) == rows[1]['S']

    accuracy = [90.0, 95.0, 60.0, 20.0, 100.0, None]
    corr = correlations(stats, accuracy, alpha=2.0, alphas=(1.0, 2.0),
                        beta=0.99)
    assert corr['classes_used'] == 4  # e and f have no volume
    acc = np.array(accuracy[:4])
    s2 = semantic_scales(x, labels, 6, alpha=2.0)[:4].numpy()
    assert corr['pearson']['S(alpha=2)'] == pytest.approx(
        np.corrcoef(s2, acc)[0, 1])
    assert corr['pearson']['N'] == pytest.approx(
        np.corrcoef([80, 50, 25, 4], acc)[0, 1])
    assert set(corr['pearson']) == {'N', 'E_n', 'W', "S'", 'S(alpha=1)',
                                    'S(alpha=2)'}


def test_small_helpers():
    assert effective_number(torch.tensor([1, 2, 10]), 0.9).tolist() == \
        pytest.approx([1.0, 1.9, (1 - 0.9**10) / 0.1])
    with pytest.raises(ValueError, match='beta'):
        effective_number(torch.tensor([1]), 1.0)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(
        np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
    assert pearson([5, 5, 5], [1, 2, 3]) is None  # balanced N: undefined
    assert pearson([1], [2]) is None
    preds = torch.tensor([0, 0, 1, 1, 1, 2])
    gts = torch.tensor([0, 1, 1, 1, 2, 2])
    assert per_class_accuracy(preds, gts, 4) == pytest.approx(
        [100.0, 200 / 3, 50.0, None])
    # Class 3 has no samples: left out of the class average.
    assert overall_accuracy(preds, gts, 4) == pytest.approx(dict(
        class_averaged=(100 + 200 / 3 + 50) / 3, image_averaged=400 / 6))
