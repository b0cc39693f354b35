"""SampleBank: the latest feature of every sample, with the per-class
statistics of FeatureBank kept up to date by replacement.

The references share no code with the bank: the test keeps its own record
of each sample's latest valid (feature, label) in a dict and recomputes the
statistics from it with numpy and the pure formulas of
:mod:`mmdsb.semantic_scale`.
"""
import numpy as np
import pytest
import torch

from mmdsb.feature_bank import FeatureBank
from mmdsb.sample_bank import SampleBank
from mmdsb.semantic_scale import (centre_distance_sums, class_volumes,
                                  dsb_weights, scales_from_volumes,
                                  semantic_scales)


class _DeviceSampleBank(SampleBank):
    """The accelerator path (no host reads, device-side checks, void rows
    through the statistics) run on the CPU."""
    _on_cpu = False


def _rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def _record_push(record, feats, labels, keys, valid):
    """What the bank must hold: the last valid row of each key wins."""
    for x, y, k, v in zip(feats, labels.tolist(), keys.tolist(),
                          valid.tolist()):
        if v:
            record[k] = (x.float().clone(), y)


def _check_against_record(bank, record, num_classes):
    keys = sorted(record)
    feats = torch.stack([record[k][0] for k in keys]) if keys else \
        torch.zeros(0, bank.dim)
    labels = torch.tensor([record[k][1] for k in keys], dtype=torch.long)
    got_feats, got_labels = bank.ordered()
    assert bank.keys().tolist() == keys and len(bank) == len(keys)
    assert torch.equal(got_feats, feats) and torch.equal(got_labels, labels)

    x, y = feats.double().numpy(), labels.numpy()
    counts = np.bincount(y, minlength=num_classes).astype(float)
    sums = np.stack([x[y == c].sum(0) for c in range(num_classes)])
    scatters = np.stack([x[y == c].T @ x[y == c] for c in range(num_classes)])
    assert np.array_equal(bank.counts.numpy(), counts)
    assert _rel_err(bank.sums.numpy(), sums) <= 1e-9
    assert _rel_err(bank.scatters.numpy(), scatters) <= 1e-9

    volumes, dist = bank.volumes(), bank.distance_sums()
    present = torch.from_numpy(counts > 0)
    assert torch.equal(bank.present(), present)
    assert _rel_err(volumes, class_volumes(feats, labels, num_classes)) \
        <= 1e-9
    centres = torch.from_numpy(sums / np.maximum(counts, 1)[:, None])
    # Float32 distances summed in float64 (see mmdsb.feature_bank).
    ref_dist = centre_distance_sums(centres, present)
    assert _rel_err(dist, ref_dist) <= 1e-6
    weights = dsb_weights(scales_from_volumes(volumes, dist, bank.present()))
    ref = dsb_weights(semantic_scales(feats, labels, num_classes))
    np.testing.assert_allclose(weights.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize('bank_type', [SampleBank, _DeviceSampleBank])
def test_replacements_match_recomputation_after_every_step(bank_type):
    # Few samples for many pushes: most rows replace a held one. Class 6
    # is rare and, every other 30 steps, its samples are relabelled away:
    # it empties and fills again.
    N, C, d = 40, 7, 6
    bank = bank_type(N, d, C)
    g = torch.Generator().manual_seed(0)
    shift = torch.randn(C, d, generator=g) * 3
    truth = torch.randint(0, C - 1, (N, ), generator=g)
    record = {}
    rare_seen = rare_gone = False
    for step in range(150):
        b = int(torch.randint(1, 16, (1, ), generator=g))
        keys = torch.randint(0, N, (b, ), generator=g)
        if b > 2:  # a key repeated within the batch, with different rows
            keys[-1] = keys[0]
        relabel = torch.rand(N, generator=g) < 0.03
        if step // 30 % 2:  # samples of the rare class leave it
            relabel |= truth == C - 1
        new = torch.randint(0, C - step // 30 % 2, (N, ), generator=g)
        truth = torch.where(relabel, new, truth)
        labels = truth[keys]
        feats = torch.randn(b, d, generator=g) + shift[labels]
        valid = torch.rand(b, generator=g) > 0.2
        feats[~valid & (torch.rand(b, generator=g) > 0.5)] = float('nan')
        bank.push(feats, labels, keys, valid=valid)
        _record_push(record, feats, labels, keys, valid)
        _check_against_record(bank, record, C)
        rare = bank.counts[C - 1] > 0
        rare_seen |= bool(rare)
        rare_gone |= rare_seen and not bool(rare)
    assert rare_seen and rare_gone
    assert bank.is_full and bank.unseen().numel() == 0


@pytest.mark.parametrize('bank_type', [SampleBank, _DeviceSampleBank])
def test_replacement_relabel_and_repeats(bank_type):
    bank = bank_type(num_samples=4, dim=1, num_classes=3)
    assert len(bank) == 0 and not bank.is_full
    assert bank.unseen().tolist() == [0, 1, 2, 3]
    bank.push(torch.tensor([[1.], [2.], [3.]]), torch.tensor([0, 0, 1]),
              torch.tensor([2, 0, 2]))
    # Key 2: its last occurrence (3.0, class 1) wins.
    assert bank.keys().tolist() == [0, 2]
    assert bank.ordered()[0].flatten().tolist() == [2, 3]
    assert bank.counts.tolist() == [1, 1, 0]
    # Key 0 relabelled to class 2: it leaves class 0. An invalid later
    # repeat of key 0 and a NaN row for key 1 change nothing.
    bank.push(torch.tensor([[5.], [7.], [float('nan')]]),
              torch.tensor([2, 1, 1]), torch.tensor([0, 0, 1]),
              valid=torch.tensor([True, False, True]))
    assert bank.unseen().tolist() == [1, 3]
    assert bank.ordered()[1].tolist() == [2, 1]
    assert bank.counts.tolist() == [0, 1, 1]
    assert bank.sums.flatten().tolist() == [0, 3, 5]
    bank.push(torch.tensor([[0.], [4.]]), torch.tensor([1, 1]),
              torch.tensor([1, 3]))
    assert bank.is_full and len(bank) == 4
    assert bank.counts.tolist() == [0, 3, 1]


def test_steady_state_push_has_no_host_read_on_meta():
    # On the meta device every data-dependent host read raises (see
    # tests/test_bank_sync_free.py). More classes than a push touches
    # (two rows per batch row), so the caches take the incremental path.
    N, C, d, B = 500, 100, 16, 16
    bank = SampleBank(N, d, C, device='meta')
    feats = torch.randn(B, d, device='meta')
    labels = torch.randint(0, C, (B, ), device='meta')
    valid = torch.arange(B, device='meta') < B - 2
    bank.push(feats, labels, torch.randint(0, N, (B, ), device='meta'))
    bank.volumes()
    bank.distance_sums()
    for _ in range(3):
        keys = torch.randint(0, N, (B, ), device='meta')
        bank.push(feats, labels, keys, valid=valid)
        assert 0 < bank._stale_volumes_n < C
        assert 0 < bank._stale_centres_n < C
        volumes, dist = bank.volumes(), bank.distance_sums()
        weights = dsb_weights(
            scales_from_volumes(volumes, dist, bank.present()))
        assert weights.shape == (C, ) and weights.device.type == 'meta'


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='the host-synchronisation check needs CUDA')
def test_push_has_no_host_sync_on_cuda():
    N, C, d, B = 300, 50, 8, 12
    cpu, cuda = SampleBank(N, d, C), SampleBank(N, d, C, device='cuda')
    g = torch.Generator().manual_seed(4)
    batches = [(torch.randn(B, d, generator=g),
                torch.randint(0, C, (B, ), generator=g),
                torch.randint(0, N, (B, ), generator=g),
                torch.rand(B, generator=g) > 0.1) for _ in range(30)]
    for batch in batches[:5]:
        cuda.push(*(t.cuda() for t in batch[:3]), valid=batch[3].cuda())
    cuda.volumes(), cuda.distance_sums()
    on_device = [tuple(t.cuda() for t in batch) for batch in batches[5:]]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for x, y, k, v in on_device:
            cuda.push(x, y, k, valid=v)
            volumes, dist = cuda.volumes(), cuda.distance_sums()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    for x, y, k, v in batches:
        cpu.push(x, y, k, valid=v)
    assert torch.equal(cuda.keys().cpu(), cpu.keys())
    assert torch.equal(cuda.counts.cpu(), cpu.counts)
    assert _rel_err(volumes.cpu(), cpu.volumes()) <= 1e-9
    assert _rel_err(dist.cpu(), cpu.distance_sums()) <= 1e-6


def test_state_dict_round_trip_and_mismatch_errors():
    N, C, d = 30, 3, 4
    bank = SampleBank(N, d, C)
    g = torch.Generator().manual_seed(2)
    for _ in range(10):
        bank.push(torch.randn(5, d, generator=g),
                  torch.randint(0, C, (5, ), generator=g),
                  torch.randint(0, N, (5, ), generator=g))
    state = bank.state_dict()
    assert set(state) == {'keys', 'feats', 'labels', 'num_samples', 'dim',
                          'num_classes', 'pushes', 'filled'}
    assert (state['pushes'], state['filled']) == (10, False)
    bank.filled = True  # as DSBHook marks it after one epoch
    state = bank.state_dict()
    other = SampleBank(N, d, C)
    other.load_state_dict(state)
    assert (other.pushes, other.filled) == (10, True)
    assert torch.equal(bank.keys(), other.keys())
    for a, b in zip(bank.ordered(), other.ordered()):
        assert torch.equal(a, b)
    assert torch.allclose(bank.volumes(), other.volumes(), rtol=1e-12)
    # A restored sample's row leaves when it is replaced.
    key = int(state['keys'][0])
    for b in (bank, other):
        b.push(torch.zeros(1, d), torch.tensor([0]), torch.tensor([key]))
    assert torch.equal(bank.counts, other.counts)
    assert torch.allclose(bank.sums, other.sums, rtol=1e-12, atol=1e-12)

    with pytest.raises(ValueError, match='num_samples=30 .*one slot per '
                       'sample.*training set changed'):
        SampleBank(31, d, C).load_state_dict(state)
    with pytest.raises(ValueError, match='dim=4 .*bank_dim'):
        SampleBank(N, 8, C).load_state_dict(state)
    with pytest.raises(ValueError, match='num_classes=3 .*number of classes'):
        SampleBank(N, d, 5).load_state_dict(state)
    twice = dict(state, keys=torch.cat([state['keys'][:1],
                                        state['keys'][:-1]]))
    with pytest.raises(ValueError, match='key twice'):
        SampleBank(N, d, C).load_state_dict(twice)
    outside = dict(state, keys=state['keys'] + N)
    with pytest.raises(ValueError, match=r'keys outside \[0, 30\)'):
        SampleBank(N, d, C).load_state_dict(outside)
    with pytest.raises(ValueError, match='FIFO queue'):
        SampleBank(N, d, C).load_state_dict(FeatureBank(N, d, C).state_dict())
    with pytest.raises(ValueError, match='per-sample bank'):
        FeatureBank(N, d, C).load_state_dict(state)
    short = dict(state, feats=state['feats'][1:])
    with pytest.raises(ValueError, match='features of shape'):
        SampleBank(N, d, C).load_state_dict(short)


@pytest.mark.parametrize('bank_type', [SampleBank, _DeviceSampleBank])
def test_bad_keys_are_named(bank_type):
    bank = bank_type(10, 2, 3)
    x, y = torch.randn(2, 2), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r'keys must lie in \[0, 10\).*'
                       r'\[-1, 3\]'):
        bank.push(x, y, torch.tensor([3, -1]))
    with pytest.raises(ValueError, match=r'keys must lie in \[0, 10\)'):
        bank.push(x, y, torch.tensor([10, 0]))
    with pytest.raises(ValueError, match=r'keys must be a 1-D .*\(2\).*'
                       r'\(1, 2\)'):
        bank.push(x, y, torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r'keys must be a 1-D .*\(3,\)'):
        bank.push(x, y, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='keys must be an integer'):
        bank.push(x, y, torch.tensor([0., 1.]))
    with pytest.raises(ValueError, match='valid must be'):
        bank.push(x, y, torch.tensor([0, 1]), valid=torch.tensor([True]))
    with pytest.raises(ValueError, match='num_samples'):
        SampleBank(0, 2, 3)
    assert len(bank) == 0 and bank.counts.sum() == 0
