"""MBJRIDEHead against losses and a memory written out here (float64
torch ops, plain lists), RIDEHead's loss and prediction, checkpoints and
two ranks."""
import io
import math

import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine.class_counts_hook import ClassCountsConsumer
from mmdsb.models.heads import MBJRIDEHead, RIDEHead
from two_ranks import run_on_two_ranks

C, D, E = 4, 5, 3
COUNTS = [100, 20, 5, 5]  # admission 0.05, 0.25, 1, 1


def build(type='MBJRIDEHead', epoch=0, **kwargs):
    cfg = dict(type=type, num_classes=C, in_channels=D, num_experts=E,
               loss=dict(type='RIDELoss', drw_epoch=3))
    if type == 'MBJRIDEHead':
        cfg.update(memory_size=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg).double()
    if isinstance(head, ClassCountsConsumer):
        head.set_class_counts(COUNTS)
    head.loss_module.set_class_counts(COUNTS)
    head.loss_module.set_epoch(epoch, 10)
    return head


def batch(seed, n=10):
    """``E`` expert features of ``n`` images and their labels."""
    g = torch.Generator().manual_seed(seed)
    feats = tuple(
        torch.randn(n, D, generator=g, dtype=torch.float64)
        for _ in range(E))
    return feats, torch.randint(0, C, (n, ), generator=g)


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def admit_prob():
    counts = torch.tensor(COUNTS, dtype=torch.float64)
    return counts.min() / counts


def draws(seed, sizes):
    """One float64 uniform per gathered row from a CPU generator seeded
    with ``seed``, step after step."""
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, generator=g, dtype=torch.float64) for n in sizes]


class RingByHand:
    """A FIFO of ``size`` slots written in order, oldest overwritten."""

    def __init__(self, size):
        self.size, self.ptr, self.filled = size, 0, 0
        self.rows, self.labels = [None] * size, [-1] * size

    def push(self, rows, labels):
        for row, label in zip(rows, labels):
            self.rows[self.ptr], self.labels[self.ptr] = row, int(label)
            self.ptr = (self.ptr + 1) % self.size
            self.filled = min(self.filled + 1, self.size)

    def entries(self):
        n = self.filled
        rows = torch.stack(self.rows[:n]) if n else torch.zeros(0, E * D)
        return rows, torch.tensor(self.labels[:n], dtype=torch.long)


def expert_logits_by_hand(x, w, s=30.0):
    """``(N, E, C)``: ``s`` times the cosine of ``x[:, i]`` and the rows of
    ``w[i]``."""
    out = torch.empty(x.shape[0], E, C, dtype=torch.float64)
    for i in range(E):
        xi = x[:, i] / (x[:, i]**2).sum(1, keepdim=True).sqrt()
        wi = w[i] / (w[i]**2).sum(1, keepdim=True).sqrt()
        out[:, i] = s * xi @ wi.T
    return out


def ce_by_hand(z, y):
    """Per-row softmax cross-entropy."""
    zmax = z.max(1, keepdim=True).values
    lse = ((z - zmax).exp().sum(1).log() + zmax[:, 0])
    return lse - z[torch.arange(len(y)), y]


def ride_by_hand(z, y, f_div=-0.2, max_m=0.5, s=30.0):
    """RIDE's loss before DRW: per expert the mean LDAM cross-entropy
    (margins n^-1/4 scaled to ``max_m``, times ``s``) plus
    ``f_div * KL(softmax(mean_i z_i) || softmax(z_i))``."""
    counts = torch.tensor(COUNTS, dtype=torch.float64)
    m = counts**-0.25
    m = m * max_m / m.max()
    rows = torch.arange(len(y))
    p = torch.softmax(z.mean(1), 1)
    total = 0.0
    for i in range(E):
        zi = z[:, i].clone()
        zi[rows, y] -= s * m[y]
        log_q = torch.log_softmax(z[:, i], 1)
        kl = (p * (p.log() - log_q)).sum() / len(y)
        total += ce_by_hand(zi, y).mean() + f_div * kl
    return float(total)


# ------------------------------------------------------------ the losses
def test_losses_and_memory_against_a_float64_hand_computation():
    assert MBJRIDEHead.__bases__ == (ClassCountsConsumer, RIDEHead)
    torch.manual_seed(0)
    lam = 0.7
    head = build(memory_loss_weight=lam, seed=3)
    w = head.weight.detach().clone()
    ref = RingByHand(8)
    for step, u in enumerate(draws(3, [10] * 5)):
        feats, y = batch(step)
        for f in feats:
            f.requires_grad_(True)
        losses = head.loss(feats, samples(y))
        assert set(losses) == {'loss', 'loss_mbj'}
        x = torch.stack([f.detach() for f in feats], 1)  # (N, E, D)
        z = expert_logits_by_hand(x, w)
        assert losses['loss'].item() == pytest.approx(ride_by_hand(z, y),
                                                      rel=1e-12)
        # The memory before this batch: nothing at step 0.
        mem_x, mem_y = ref.entries()
        if step == 0:
            assert len(mem_y) == 0 and losses['loss_mbj'].item() == 0
        else:
            zm = expert_logits_by_hand(mem_x.view(-1, E, D), w)
            per_expert = [ce_by_hand(zm[:, i], mem_y).mean() for i in range(E)]
            expected = lam * float(sum(per_expert)) / E
            assert losses['loss_mbj'].item() == pytest.approx(expected,
                                                              rel=1e-12)
            # The memory term trains the classifiers, not the features.
            losses['loss_mbj'].backward()
            assert all(f.grad is None for f in feats)
            assert head.weight.grad.abs().sum() > 0
            head.zero_grad()
        # Row = [x_1 | x_2 | x_3]: one draw per image for all experts.
        keep = u < admit_prob()[y]
        ref.push(x.reshape(-1, E * D)[keep], y[keep])
        mem_x, mem_y = ref.entries()
        feats_now, labels_now = head.memory.entries()
        assert torch.equal(feats_now, mem_x)
        assert torch.equal(labels_now, mem_y)
    assert ref.filled == 8 and ref.ptr != 0  # the memory wrapped around


def test_ride_loss_and_prediction_are_ride_heads():
    torch.manual_seed(1)
    ride = build('RIDEHead', epoch=5)  # DRW on
    mbj = build(epoch=5)
    with torch.no_grad():
        mbj.weight.copy_(ride.weight)
    for step in range(3):
        feats, y = batch(10 + step)
        got = mbj.loss(feats, samples(y))
        assert torch.equal(got['loss'], ride.loss(feats, samples(y))['loss'])
    assert int(mbj.memory.filled) > 0
    mbj.eval()
    ride.eval()
    feats, y = batch(20)
    assert torch.equal(mbj(feats), ride(feats))
    assert torch.equal(
        mbj.predict(feats)[0].pred_score,
        ride.predict(feats)[0].pred_score)
    # In eval mode: RIDE's loss alone, and the memory is left as it is.
    state = {k: v.clone() for k, v in mbj.memory.state_dict().items()
             if k != '_extra_state'}
    assert set(mbj.loss(feats, samples(y))) == {'loss'}
    for key, value in state.items():
        assert torch.equal(getattr(mbj.memory, key), value), key


# ------------------------------------------------------------ checkpoints
def test_memory_round_trips_through_the_state_dict_and_resumes():
    torch.manual_seed(2)
    head = build(seed=11)
    for step in range(3):
        feats, y = batch(step)
        head.loss(feats, samples(y))
    buf = io.BytesIO()
    torch.save(head.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert {'weight', 'memory.feats', 'memory.labels', 'memory.ptr',
            'memory.filled', 'memory._extra_state'} == set(state)
    torch.manual_seed(3)
    resumed = build(seed=0)  # another seed and weights: the state must win
    resumed.load_state_dict(state)
    for step in range(3, 7):  # the uninterrupted head goes on alongside
        feats, y = batch(step)
        a, b = head.loss(feats, samples(y)), resumed.loss(feats, samples(y))
        assert torch.equal(a['loss_mbj'], b['loss_mbj'])
        for key in ('feats', 'labels', 'ptr', 'filled'):
            assert torch.equal(getattr(resumed.memory, key),
                               getattr(head.memory, key)), key


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
        dict(type='MBJRIDEHead', num_classes=C, in_channels=D,
             num_experts=E)).double()
    head.loss_module.set_class_counts(COUNTS)
    feats, y = batch(0)
    with pytest.raises(RuntimeError, match='MBJRIDEHead has no class counts'):
        head.loss(feats, samples(y))
    soft = [
        DataSample().set_gt_score(torch.full((C, ), 1.0 / C))
        for _ in range(10)
    ]
    with pytest.raises(ValueError, match='MBJRIDEHead .* soft targets'):
        build().loss(feats, soft)


# ------------------------------------------------------------ two ranks
def _rank_main(rank, out):
    torch.manual_seed(0)  # the same classifiers on both ranks
    head = build(memory_size=16, seed=4)
    for step in range(3):
        # Local batches of different sizes (3 and 5 images).
        feats, y = batch(10 * step + rank, n=3 + 2 * rank)
        head.loss(feats, samples(y))
    torch.save({k: v for k, v in head.memory.state_dict().items()
                if k != '_extra_state'}, f'{out}/rank{rank}.pt')


@pytest.mark.slow  # two processes (gloo)
def test_two_ranks_hold_the_memory_of_the_whole_batch(tmp_path):
    run_on_two_ranks(_rank_main, tmp_path)
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # What one process fed the 8 images of each step in rank order holds.
    ref = RingByHand(16)
    for step, u in enumerate(draws(4, [8] * 3)):
        parts = [batch(10 * step, n=3), batch(10 * step + 1, n=5)]
        x = torch.cat([torch.cat(p[0], 1) for p in parts])
        y = torch.cat([p[1] for p in parts])
        keep = u < admit_prob()[y]
        ref.push(x[keep], y[keep])
    mem_x, mem_y = ref.entries()
    n = int(rank0['filled'])
    assert n == ref.filled > 0
    assert torch.equal(rank0['feats'][:n], mem_x)
    assert torch.equal(rank0['labels'][:n], mem_y)
