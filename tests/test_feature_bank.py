import math
import numpy as np
import pytest
import torch

from mmdsb.engine.channel_pooling import pool_channels
from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb import feature_bank
from mmdsb.feature_bank import FeatureBank
from mmdsb.semantic_scale import (centre_distance_sums, class_volumes,
                                  dsb_weights, semantic_scales)


def exact_stats(feats, labels, num_classes):
    x, y = feats.double().numpy(), labels.numpy()
    d = x.shape[1]
    counts = np.bincount(y, minlength=num_classes).astype(float)
    sums = np.zeros((num_classes, d))
    scatters = np.zeros((num_classes, d, d))
    for c in range(num_classes):
        xc = x[y == c]
        sums[c] = xc.sum(0)
        scatters[c] = xc.T @ xc
    return counts, sums, scatters


def rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def test_incremental_statistics_match_recomputation_after_many_steps():
    C, d, capacity = 23, 16, 700
    bank = FeatureBank(capacity, d, C)
    g = torch.Generator().manual_seed(0)
    shift = torch.randn(C, d, generator=g) * 3
    for step in range(4000):
        b = int(torch.randint(1, 60, (1, ), generator=g))
        labels = torch.randint(0, C, (b, ), generator=g)
        feats = torch.randn(b, d, generator=g) * 2 + shift[labels]
        # Mix plain enqueues, FIFO steps and overflow past the capacity.
        evict = [0, b, int(torch.randint(0, 90, (1, ), generator=g))][step % 3]
        bank.push(feats, labels, evict=evict)
        if step % 50 == 0:  # use the caches between updates
            bank.volumes()
            bank.distance_sums()
    pool_feats, pool_labels = bank.ordered()
    assert len(bank) == pool_labels.numel() <= capacity
    counts, sums, scatters = exact_stats(pool_feats, pool_labels, C)
    assert np.array_equal(bank.counts.numpy(), counts)
    assert rel_err(bank.sums.numpy(), sums) <= 1e-9
    assert rel_err(bank.scatters.numpy(), scatters) <= 1e-9
    assert rel_err(bank.volumes().numpy(),
                   class_volumes(pool_feats, pool_labels, C).numpy()) <= 1e-9
    present = torch.from_numpy(counts > 0)
    # Distances are float32 blocks summed in float64 (FeatureBank docs).
    assert rel_err(bank.distance_sums().numpy(),
                   centre_distance_sums(torch.from_numpy(sums / np.maximum(
                       counts, 1)[:, None]), present).numpy()) <= 1e-6


def test_fifo_order_and_eviction():
    bank = FeatureBank(capacity=5, dim=1, num_classes=3)
    for i in range(4):
        bank.push(torch.tensor([[float(i)]]), torch.tensor([i % 3]))
    bank.push(torch.tensor([[4.0], [5.0]]), torch.tensor([1, 2]))  # overflow
    feats, labels = bank.ordered()
    assert feats.flatten().tolist() == [1, 2, 3, 4, 5]
    bank.push(torch.tensor([[6.0]]), torch.tensor([0]), evict=3)
    feats, labels = bank.ordered()
    assert feats.flatten().tolist() == [4, 5, 6]
    assert labels.tolist() == [1, 2, 0]
    assert bank.counts.tolist() == [1, 1, 1]
    assert bank.sums.flatten().tolist() == [6, 4, 5]


def test_state_dict_round_trip_and_mismatch_errors():
    bank = FeatureBank(capacity=50, dim=4, num_classes=3)
    for _ in range(20):
        bank.push(torch.randn(7, 4), torch.randint(0, 3, (7, )), evict=7)
    state = bank.state_dict()
    assert all(isinstance(v, (int, torch.Tensor)) for v in state.values())
    other = FeatureBank(capacity=50, dim=4, num_classes=3)
    other.load_state_dict(state)
    for a, b in zip(bank.ordered(), other.ordered()):
        assert torch.equal(a, b)
    assert torch.allclose(bank.volumes(), other.volumes(), rtol=1e-12)
    with pytest.raises(ValueError, match='capacity=50 .*distinct samples '
                       'in one epoch.*training set changed'):
        FeatureBank(capacity=60, dim=4, num_classes=3).load_state_dict(state)
    with pytest.raises(ValueError, match='dim=4 .*bank_dim'):
        FeatureBank(capacity=50, dim=8, num_classes=3).load_state_dict(state)
    with pytest.raises(ValueError, match='num_classes=3 .*number of classes'):
        FeatureBank(capacity=50, dim=4, num_classes=5).load_state_dict(state)


def test_bank_below_capacity_grows_then_replaces():
    # The fill rule: below capacity nothing leaves; once full, a batch
    # replaces as many of the oldest samples.
    bank = FeatureBank(capacity=10, dim=1, num_classes=2)
    sizes = []
    for i in range(5):
        bank.push(torch.full((3, 1), float(i)), torch.tensor([0, 1, 0]))
        sizes.append((len(bank), bank.is_full))
    assert sizes == [(3, False), (6, False), (9, False), (10, True),
                     (10, True)]
    assert bank.ordered()[0].flatten().tolist() == [1, 2, 2, 2, 3, 3, 3, 4,
                                                    4, 4]
    assert bank.counts.tolist() == [7, 3]


def test_bad_batches_are_named():
    bank = FeatureBank(capacity=10, dim=4, num_classes=3)
    with pytest.raises(ValueError, match='4-d features'):
        bank.push(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        bank.push(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match='capacity'):
        FeatureBank(capacity=0, dim=4, num_classes=3)


def _weights_from_scratch(bank):
    feats, labels = bank.ordered()
    scales = semantic_scales(feats, labels, bank.num_classes)
    return dsb_weights(scales), class_volumes(feats, labels,
                                              bank.num_classes)


class _DeviceBank(FeatureBank):
    """The bank's accelerator path (sorted labels with repeats masked,
    device-side label checks, void rows) run on the CPU."""
    _on_cpu = False


@pytest.mark.parametrize('bank_type', [FeatureBank, _DeviceBank])
def test_incremental_weights_match_recomputation(bank_type):
    # Classes appear and vanish: classes 8-11 are rare and come in bursts,
    # so they leave the pool entirely and enter it again; some batches
    # carry void rows (as the weighter marks non-finite features).
    C, d, capacity = 12, 8, 240
    weighter = SemanticScaleWeighter(bank_dim=d)
    weighter.init_bank(capacity, C, torch.device('cpu'))
    weighter.bank = bank_type(capacity, d, C)
    bank = weighter.bank
    g = torch.Generator().manual_seed(1)
    shift = torch.randn(C, d, generator=g) * 4
    spread = torch.rand(C, 1, generator=g) + 0.3
    worst_w = worst_v = 0.0
    seen_absent = seen_back = False
    was_absent = torch.zeros(C, dtype=torch.bool)
    for step in range(300):
        b = int(torch.randint(8, 40, (1, ), generator=g))
        rare = 8 + (step // 40) % 4 if step % 40 < 6 else None
        labels = torch.randint(0, 8, (b, ), generator=g)
        if rare is not None:
            labels[:b // 3] = rare
        feats = torch.randn(b, d, generator=g) * spread[labels] + \
            shift[labels]
        valid = None
        if bank_type is _DeviceBank and step % 7 == 0:
            valid = torch.rand(b, generator=g) > 0.2
        bank.push(feats, labels, valid=valid)
        present = bank.present()
        seen_back |= bool((was_absent & present).any())
        was_absent |= ~present & bank.is_full
        seen_absent |= bool(was_absent.any())
        if step % 3 == 0 and bank.is_full:
            ref_w, ref_v = _weights_from_scratch(bank)
            worst_w = max(worst_w, rel_err(weighter.class_weights(), ref_w))
            worst_v = max(worst_v, rel_err(bank.volumes(), ref_v))
    assert seen_absent and seen_back
    assert worst_v <= 1e-9
    # Distances in float32 (documented): weights within 1e-6.
    assert 0 < worst_w <= 1e-6


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('scipy', [True, False])
def test_volumes_factored_on_several_threads_match_reference(
        monkeypatch, threads, scipy):
    # The Cholesky factors come from SciPy's LAPACK binding when it is
    # installed, else from torch; both on one or several torch threads.
    if not scipy:
        monkeypatch.setattr(feature_bank, '_dpotrf', None)
    elif feature_bank._dpotrf is None:
        pytest.skip('SciPy is not installed')
    C, d = 150, 6
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, C, (1500, ), generator=g)
    feats = torch.randn(1500, d, generator=g) * (1 + labels[:, None] % 5)
    bank = FeatureBank(1500, d, C)
    bank.push(feats, labels)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        volumes = bank.volumes()
    finally:
        torch.set_num_threads(threads)
    assert rel_err(volumes, class_volumes(feats, labels, C)) <= 1e-9


def test_matrix_that_fails_to_factor_falls_back_to_clamped_eigenvalues():
    # Statistics that no real pool gives (a scatter below s s^T / n) make
    # I + c (M - s s^T / n) indefinite; like feature_volume's fallback, its
    # eigenvalues are clamped at 1: volume 0, never NaN.
    bank = FeatureBank(capacity=10, dim=3, num_classes=2)
    gen = torch.Generator().manual_seed(0)
    bank.push(torch.randn(6, 3, generator=gen) + 5,
              torch.tensor([0, 0, 0, 1, 1, 1]))
    bank.scatters[0].zero_()
    volumes = bank.volumes()
    assert abs(float(volumes[0])) < 1e-12 and volumes[1] > 1


def test_fallback_keeps_the_eigenvalues_above_one():
    # Centred scatter diag(4, 2, -50) with n = 6, d = 3: the volume matrix
    # I + d / n * diag(4, 2, -50) = diag(3, 2, -24) does not factor; the
    # clamped eigenvalues (3, 2, 1) give 1/2 log2(6) by hand.
    bank = FeatureBank(capacity=10, dim=3, num_classes=2)
    gen = torch.Generator().manual_seed(0)
    bank.push(torch.randn(6, 3, generator=gen),
              torch.zeros(6, dtype=torch.long))
    s = bank.sums[0]
    bank.scatters[0] = torch.diag(torch.tensor(
        [4., 2., -50.], dtype=torch.float64)) + torch.outer(s, s) / 6
    volumes = bank.volumes()
    assert abs(float(volumes[0]) - 0.5 * math.log2(6)) < 1e-12
    assert float(volumes[1]) == 0


def test_pooling_averages_equal_groups_of_channels():
    # 2048 channels to 64: channel i of the bank is the mean of channels
    # 32 i .. 32 i + 31 (paper App. F.2), by float64 numpy. 8 channels to
    # 3 take the adaptive bins [0, 3), [2, 6), [5, 8): means 1, 2, 3.
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(5, 2048, 1, 1, generator=gen)
    ref = feats.double().numpy().reshape(5, 64, 32).mean(-1)
    reduced = pool_channels(feats, 64)
    assert reduced.shape == (5, 64)
    assert np.abs(reduced.double().numpy() - ref).max() <= 1e-6
    odd = pool_channels(torch.tensor([[1., 1., 1., 2., 2., 3., 3., 3.]]), 3)
    assert odd.tolist() == [[1., 2., 3.]]
