"""MBJLinearClsHead, its FeatureMemory and DSBMBJLinearClsHead against
memories and losses written out here (float64 numpy, plain lists)."""
import io
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine.stages import DSBStage
from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb.models.heads import DSBHeadMixin, MBJLinearClsHead
from mmdsb.models.heads.dsb_mbj_head import DSBMBJLinearClsHead
from mmdsb.models.utils import FeatureMemory
from two_ranks import run_on_two_ranks

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
C, D = 4, 6
COUNTS = [100, 20, 5, 5]  # admission 0.05, 0.25, 1, 1


def build(type='MBJLinearClsHead', **kwargs):
    cfg = dict(type=type, num_classes=C, in_channels=D, memory_size=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.set_class_counts(COUNTS)
    return head


def batch(seed, n=12):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, D, generator=g, dtype=torch.float64)
    labels = torch.randint(0, C, (n, ), generator=g)
    return feats, labels


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def draws(seed, sizes):
    """The memory's admission numbers: one float64 uniform per gathered
    row from a CPU generator seeded with ``seed``, step after step."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.rand(n, generator=g, dtype=torch.float64).numpy() for n in sizes
    ]


class RingByHand:
    """A FIFO of ``size`` slots written in order, oldest overwritten."""

    def __init__(self, size):
        self.size, self.ptr, self.filled = size, 0, 0
        self.feats = [None] * size
        self.labels = [-1] * size

    def push(self, rows, labels):
        for row, label in zip(rows, labels):
            self.feats[self.ptr], self.labels[self.ptr] = row, int(label)
            self.ptr = (self.ptr + 1) % self.size
            self.filled = min(self.filled + 1, self.size)

    def entries(self):
        return (np.array(self.feats[:self.filled]).reshape(-1, D),
                np.array(self.labels[:self.filled]))


def ce_by_hand(x, y, w, b):
    """Mean softmax cross-entropy of ``x @ w.T + b`` in float64."""
    z = x @ w.T + b
    zmax = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
    return float(np.mean(lse - z[np.arange(len(y)), y]))


# ------------------------------------------------------------ the memory
def test_memory_keeps_the_last_rows_in_order():
    mem = FeatureMemory(size=5, dim=D).double()
    ref = RingByHand(5)
    for step, n in enumerate([3, 4, 7, 0, 2]):
        x, y = batch(step, n)
        assert mem.push(x, y) == n  # no probabilities: every row enters
        ref.push(x.numpy(), y.numpy())
        assert int(mem.ptr) == ref.ptr and int(mem.filled) == ref.filled
        feats, labels = mem.entries()
        ref_feats, ref_labels = ref.entries()
        np.testing.assert_array_equal(feats.numpy(), ref_feats)
        assert labels.tolist() == ref_labels.tolist()
    # Empty slots are never read: a fresh memory has no entries.
    assert FeatureMemory(size=3, dim=2).entries()[1].numel() == 0


def test_admission_follows_the_class_probabilities():
    prob = torch.tensor([1.0, 0.5, 0.0, 0.25], dtype=torch.float64)
    mem = FeatureMemory(size=1000, dim=D, seed=7).double()
    ref = RingByHand(1000)
    sizes = [40, 25, 60]
    for step, (n, u) in enumerate(zip(sizes, draws(7, sizes))):
        x, y = batch(10 + step, n)
        keep = u < prob.numpy()[y.numpy()]
        assert mem.push(x, y, prob) == keep.sum()
        ref.push(x.numpy()[keep], y.numpy()[keep])
    feats, labels = mem.entries()
    ref_feats, ref_labels = ref.entries()
    np.testing.assert_array_equal(feats.numpy(), ref_feats)
    assert labels.tolist() == ref_labels.tolist()
    # Class 0 always enters, class 2 never.
    all_labels = torch.cat([batch(10 + s, n)[1] for s, n in enumerate(sizes)])
    assert (labels == 0).sum() == (all_labels == 0).sum()
    assert (labels == 2).sum() == 0


def test_non_finite_rows_never_enter_and_draws_stay_in_step():
    prob = torch.tensor([1.0, 0.5, 0.0, 0.25], dtype=torch.float64)
    mem = FeatureMemory(size=50, dim=D, seed=2).double()
    ref = RingByHand(50)
    for step, u in enumerate(draws(2, [20, 20])):
        x, y = batch(20 + step, 20)
        x[3, 1], x[7, 0] = math.nan, math.inf
        keep = (u < prob.numpy()[y.numpy()]) & np.isfinite(x.numpy()).all(1)
        assert mem.push(x, y, prob) == keep.sum()
        ref.push(x.numpy()[keep], y.numpy()[keep])
    feats, labels = mem.entries()
    np.testing.assert_array_equal(feats.numpy(), ref.entries()[0])
    assert labels.tolist() == ref.entries()[1].tolist()
    with pytest.raises(ValueError,
                       match=r'labels must lie in \[0, 4\), '
                       r'got 0\.\.7'):
        mem.push(torch.zeros(2, D), torch.tensor([0, 7]), prob)


def test_admission_probabilities_come_from_the_class_counts():
    head = build()
    np.testing.assert_allclose(head.admit_prob().numpy(),
                               [0.05, 0.25, 1.0, 1.0],
                               rtol=1e-15)
    head = build(admit_power=0.5)
    np.testing.assert_allclose(head.admit_prob().numpy(),
                               np.sqrt([0.05, 0.25, 1.0, 1.0]),
                               rtol=1e-15)
    assert build(admit_power=0).admit_prob().tolist() == [1.0] * C


# ------------------------------------------------------------ the loss
def test_losses_and_memory_against_a_float64_hand_computation():
    torch.manual_seed(0)
    lam = 0.7
    head = build(memory_loss_weight=lam, memory_size=8, seed=3).double()
    w = head.fc.weight.detach().numpy().copy()
    b = head.fc.bias.detach().numpy().copy()
    prob = np.array(COUNTS, dtype=np.float64)
    prob = prob.min() / prob
    sizes = [12] * 5
    ref = RingByHand(8)
    for step, u in enumerate(draws(3, sizes)):
        x, y = batch(step)
        x.requires_grad_(True)
        losses = head.loss((x, ), samples(y))
        xn, yn = x.detach().numpy(), y.numpy()
        assert losses['loss'].item() == pytest.approx(ce_by_hand(xn, yn, w, b),
                                                      rel=1e-12)
        mem_x, mem_y = ref.entries()
        expected = lam * ce_by_hand(mem_x, mem_y, w, b) if len(mem_y) else 0.
        assert losses['loss_mbj'].item() == pytest.approx(expected,
                                                          rel=1e-12,
                                                          abs=0)
        # The memory term trains the classifier, not the features.
        if len(mem_y):
            losses['loss_mbj'].backward()
            assert x.grad is None and head.fc.weight.grad is not None
            head.zero_grad()
        keep = u < prob[yn]
        ref.push(xn[keep], yn[keep])
    feats, labels = head.memory.entries()
    ref_feats, ref_labels = ref.entries()
    assert len(ref_labels) == 8  # five batches overflowed the 8 slots
    np.testing.assert_array_equal(feats.numpy(), ref_feats)
    assert labels.tolist() == ref_labels.tolist()


def test_evaluation_uses_the_linear_classifier_alone():
    head = build().double()
    x, y = batch(0)
    head.loss((x, ), samples(y))
    head.eval()
    filled = int(head.memory.filled)
    w, b = head.fc.weight.detach(), head.fc.bias.detach()
    torch.testing.assert_close(head((x, )), x @ w.T + b, rtol=0, atol=0)
    assert set(head.loss((x, ), samples(y))) == {'loss'}
    assert int(head.memory.filled) == filled


# ------------------------------------------------------------ DSB+MBJ
def test_dsb_mbj_is_mbj_outside_the_reweighting_stage_and_weights_the_batch():
    assert DSBMBJLinearClsHead.__bases__ == (DSBHeadMixin, MBJLinearClsHead)
    torch.manual_seed(0)
    plain = build(seed=5).double()
    dsb = build('DSBMBJLinearClsHead', seed=5).double()
    dsb.load_state_dict(plain.state_dict())
    weighter = SemanticScaleWeighter(bank_dim=D)
    weighter.init_bank(capacity=48, num_classes=C, device='cpu')
    dsb.dsb_weighter = weighter
    assert weighter.stage == DSBStage.FILL
    for step in range(4):
        x, y = batch(step)
        a, b = plain.loss((x, ), samples(y)), dsb.loss((x, ), samples(y))
        assert a.keys() == b.keys() == {'loss', 'loss_mbj'}
        for key in a:
            assert torch.equal(a[key], b[key]), key
    for key, value in plain.state_dict().items():
        assert torch.equal(value, dsb.state_dict()[key]), key

    weighter.stage = DSBStage.REWEIGHT
    x, y = batch(9)
    mbj = plain.loss((x, ), samples(y))
    both = dsb.loss((x, ), samples(y))
    # The weights of the bank after this batch entered it.
    cw = weighter.class_weights(record=False).double().numpy()
    assert not np.allclose(cw, 1.0)
    wt = dsb.fc.weight.detach().numpy()
    bias = dsb.fc.bias.detach().numpy()
    z = x.numpy() @ wt.T + bias
    zmax = z.max(axis=1)
    per_sample = (np.log(np.exp(z - zmax[:, None]).sum(axis=1)) + zmax -
                  z[np.arange(12), y.numpy()])
    assert both['loss'].item() == pytest.approx(float(
        np.mean(cw[y.numpy()] * per_sample)),
                                                rel=1e-6)
    # The jittered (memory) samples are not weighted: the MBJ term as is.
    assert torch.equal(both['loss_mbj'], mbj['loss_mbj'])
    assert torch.equal(dsb.memory.feats, plain.memory.feats)


# ------------------------------------------------------------ checkpoints
def test_memory_round_trips_through_the_state_dict_and_resumes():
    torch.manual_seed(0)
    head = build(seed=11).double()
    for step in range(3):
        head.loss((batch(step)[0], ), samples(batch(step)[1]))
    buf = io.BytesIO()
    torch.save(head.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert {
        'memory.feats', 'memory.labels', 'memory.ptr', 'memory.filled',
        'memory._extra_state'
    } <= set(state)
    torch.manual_seed(1)
    resumed = build(seed=0).double()  # another seed: the state must win
    resumed.load_state_dict(state)
    for key in ('feats', 'labels', 'ptr', 'filled'):
        assert torch.equal(getattr(resumed.memory, key),
                           getattr(head.memory, key)), key
    for step in range(3, 6):
        x, y = batch(step)
        a, b = head.loss((x, ), samples(y)), resumed.loss((x, ), samples(y))
        assert torch.equal(a['loss_mbj'], b['loss_mbj'])
    assert torch.equal(resumed.memory.feats, head.memory.feats)
    assert torch.equal(resumed.memory.labels, head.memory.labels)


# ------------------------------------------------------------ errors
@pytest.mark.parametrize('kwargs, match', [
    (dict(memory_size=0), 'size must be a positive integer, got 0'),
    (dict(memory_loss_weight=-1.0), 'memory_loss_weight .* got -1.0'),
    (dict(admit_power=math.nan), 'admit_power .* got nan'),
    (dict(seed=-2), 'seed must be an integer >= 0, got -2'),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


def test_missing_counts_and_soft_targets_are_refused():
    head = MODELS.build(
        dict(type='MBJLinearClsHead', num_classes=C, in_channels=D)).double()
    x, y = batch(0)
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        head.loss((x, ), samples(y))
    head = build().double()
    soft = [
        DataSample().set_gt_score(torch.full((C, ), 1.0 / C))
        for _ in range(12)
    ]
    with pytest.raises(ValueError, match='soft targets'):
        head.loss((x, ), soft)
    with pytest.raises(ValueError, match=r'features must be \(n, 6\)'):
        head.memory.push(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))


# ------------------------------------------------------------ two ranks
def _rank_main(rank, out):
    torch.manual_seed(0)  # the same classifier on both ranks
    head = build(memory_size=16, seed=4).double()
    for step in range(4):
        # Local batches of different sizes (3 and 5 images).
        x, y = batch(10 * step + rank, n=3 + 2 * rank)
        head.loss((x, ), samples(y))
    torch.save(
        {
            k: v
            for k, v in head.memory.state_dict().items()
            if k != '_extra_state'
        }, f'{out}/rank{rank}.pt')


@pytest.mark.slow  # two processes (gloo)
def test_two_ranks_hold_the_memory_of_the_whole_batch(tmp_path):
    run_on_two_ranks(_rank_main, tmp_path)
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Both hold what one process fed the 8 rows of each step in rank
    # order would hold.
    prob = np.array(COUNTS, dtype=np.float64)
    prob = prob.min() / prob
    ref = RingByHand(16)
    for step, u in enumerate(draws(4, [8] * 4)):
        parts = [batch(10 * step, n=3), batch(10 * step + 1, n=5)]
        x = torch.cat([p[0] for p in parts]).numpy()
        y = torch.cat([p[1] for p in parts]).numpy()
        keep = u < prob[y]
        ref.push(x[keep], y[keep])
    ref_feats, ref_labels = ref.entries()
    n = int(rank0['filled'])
    np.testing.assert_array_equal(rank0['feats'][:n].numpy(), ref_feats)
    assert rank0['labels'][:n].tolist() == ref_labels.tolist()
