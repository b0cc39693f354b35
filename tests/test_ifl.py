"""Invariant Feature Learning (IFL): the centre loss and its centre update,
the re-weighted environment and its sampler, the IFL heads with CE and
balanced softmax, the DSB form, checkpoints, bad values and two ranks,
each against a float64 computation written out here."""
import math

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from fixtures import write_image_list
from mmdsb.datasets import IFLEnvSampler
from mmdsb.engine import IFLHook, SemanticScaleWeighter, ifl_intra_weights
from two_ranks import run_on_two_ranks

C, D = 4, 6  # classes, feature dimension


def center_loss(**kwargs):
    cfg = dict(type='IFLCenterLoss', num_classes=C, feat_dim=D,
               milestones=[0, 2], weights=[0.0, 0.5])
    cfg.update(kwargs)
    return MODELS.build(cfg)


def features(seed, n=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    y = torch.randint(0, C, (n, ), generator=g)
    y[:C] = torch.arange(C)[:min(n, C)]  # every class in a batch of >= C
    return x, y


def ref_loss(x, y, centres, weight):
    """``weight * mean_i sum_d (x_id - c_{y_i} d)^2``, item by item."""
    x, c = np.asarray(x, np.float64), np.asarray(centres, np.float64)
    total = 0.0
    for i in range(len(y)):
        total += sum((x[i, d] - c[int(y[i]), d])**2 for d in range(D))
    return weight * total / len(y)


def ref_sgd_step(x, y, centres, lr=0.5):
    """The released code's centre update: one SGD step (no momentum) on
    the unweighted centre loss, its gradient taken by autograd."""
    c = torch.tensor(np.asarray(centres, np.float64), requires_grad=True)
    x = torch.as_tensor(np.asarray(x, np.float64))
    loss = (x - c[torch.as_tensor(y)]).pow(2).sum(dim=1).mean()
    loss.backward()
    with torch.no_grad():
        return (c - lr * c.grad).numpy()


def test_center_loss_and_update_follow_the_released_rule():
    loss_fn = center_loss().train()
    loss_fn.set_epoch(2, 4)
    centres = loss_fn.centers.double().numpy().copy()
    for step in range(3):
        x, y = features(step)
        out = loss_fn(x, y)
        assert out.item() == pytest.approx(ref_loss(x, y, centres, 0.5),
                                           rel=1e-6)
        centres = ref_sgd_step(x, y, centres)
        np.testing.assert_allclose(loss_fn.centers.double().numpy(),
                                   centres, rtol=1e-6, atol=1e-6)
    assert int(loss_fn.num_updates) == 3


def test_weight_schedule_and_frozen_centres():
    loss_fn = center_loss(milestones=[1, 3], weights=[0.0, 0.2]).train()
    start = loss_fn.centers.clone()
    expected = {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.2, 9: 0.2}
    for epoch, weight in expected.items():
        loss_fn.set_epoch(epoch, 10)
        assert loss_fn.current_weight() == weight
    loss_fn.set_epoch(2, 10)
    x, y = features(0)
    assert loss_fn(x, y).item() == 0.0
    assert torch.equal(loss_fn.centers, start)  # weight 0: no step
    loss_fn.set_epoch(3, 10)
    loss_fn.eval()(x, y)
    assert torch.equal(loss_fn.centers, start)  # evaluation: no step
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        center_loss()(x, y)  # nobody set the epoch


def heads(loss=dict(type='CrossEntropyLoss'), weights=(0.3, )):
    torch.manual_seed(0)
    cfg = dict(num_classes=C, in_channels=D, loss=loss,
               center_loss=dict(milestones=[0], weights=list(weights)))
    plain = MODELS.build(dict(type='IFLLinearClsHead', **cfg))
    dsb = MODELS.build(dict(type='DSBIFLLinearClsHead', **cfg))
    dsb.load_state_dict(plain.state_dict())
    for h in (plain, dsb):
        h.train()
        h.center_loss.set_epoch(0, 1)
    return plain, dsb


def samples(y):
    return [DataSample(metainfo=dict(sample_idx=10 + i)).set_gt_label(int(v))
            for i, v in enumerate(y)]


def ref_ce(logits, y, prior=None):
    """Mean cross-entropy of ``logits (+ log prior)`` by log-sum-exp."""
    z = np.asarray(logits, np.float64)
    if prior is not None:
        z = z + np.log(np.asarray(prior, np.float64))
    per = [math.log(sum(math.exp(v) for v in row)) - row[int(t)]
           for row, t in zip(z, y)]
    return np.asarray(per)


def logits_of(head, x):
    w = head.fc.weight.detach().double().numpy()
    b = head.fc.bias.detach().double().numpy()
    return np.asarray(x, np.float64) @ w.T + b


@pytest.mark.parametrize('balanced', [False, True])
def test_head_adds_the_centre_term_to_ce_and_balanced_softmax(balanced):
    counts = [8.0, 4.0, 2.0, 1.0]
    loss = dict(type='BalancedSoftmaxLoss') if balanced else dict(
        type='CrossEntropyLoss')
    head, _ = heads(loss)
    if balanced:
        head.loss_module.set_class_counts(counts)
    x, y = features(3)
    centres = head.center_loss.centers.double().numpy().copy()
    head.record_env_scores = True
    out = head.loss((x, ), samples(y))
    prior = np.asarray(counts) / sum(counts) if balanced else None
    z = logits_of(head, x)
    assert out['loss'].item() == pytest.approx(
        ref_ce(z, y, prior).mean(), rel=1e-5)
    assert out['loss_center'].item() == pytest.approx(
        ref_loss(x, y, centres, 0.3), rel=1e-5)
    # The recorded scores: dataset indices and p(true class) of raw logits.
    index, prob = head.env_scores
    assert index.tolist() == [10 + i for i in range(len(y))]
    p = np.exp(z - z.max(1, keepdims=True))
    p = p / p.sum(1, keepdims=True)
    np.testing.assert_allclose(prob.numpy(), p[np.arange(len(y)), y],
                               rtol=1e-5)


def weighter_at(stage):
    weighter = SemanticScaleWeighter(alpha=2.0, bank_dim=D)
    weighter.init_bank(capacity=60, num_classes=C, device='cpu')
    weighter.stage = stage
    return weighter


@pytest.mark.parametrize('stage', [1, 2])
def test_dsb_form_equals_the_plain_form_outside_reweighting(stage):
    plain, dsb = heads()
    dsb.dsb_weighter = weighter_at(stage)
    for step in range(3):
        x, y = features(step)
        a, b = plain.loss((x, ), samples(y)), dsb.loss((x, ), samples(y))
        assert torch.equal(a['loss'], b['loss'])
        assert torch.equal(a['loss_center'], b['loss_center'])
    assert torch.equal(plain.center_loss.centers, dsb.center_loss.centers)


def test_dsb_weights_the_classification_term_only():
    plain, dsb = heads()
    dsb.dsb_weighter = weighter = weighter_at(2)
    for step in range(8):  # fill the bank
        x, y = features(100 + step)
        plain.loss((x, ), samples(y))
        dsb.loss((x, ), samples(y))
    weighter.stage = 3
    x, y = features(7)
    centres = plain.center_loss.centers.double().numpy().copy()
    out = dsb.loss((x, ), samples(y))
    a = weighter.class_weights().double().numpy()
    assert np.std(a) > 1e-3  # the weights are not trivially uniform
    per = ref_ce(logits_of(dsb, x), y)
    assert out['loss'].item() == pytest.approx(
        float(np.mean(a[y.numpy()] * per)), rel=1e-5)
    assert out['loss_center'].item() == pytest.approx(
        ref_loss(x, y, centres, 0.3), rel=1e-5)


def test_centres_round_trip_through_the_state_dict():
    first, _ = heads()
    for step in range(3):
        x, y = features(step)
        first.loss((x, ), samples(y))
    state = first.state_dict()
    assert {'center_loss.centers', 'center_loss.num_updates'} <= set(state)
    second, _ = heads()
    second.load_state_dict(state)
    for step in range(3, 5):  # the resumed head continues exactly
        x, y = features(step)
        a, b = first.loss((x, ), samples(y)), second.loss((x, ), samples(y))
        assert torch.equal(a['loss_center'], b['loss_center'])
    assert torch.equal(first.center_loss.centers, second.center_loss.centers)
    assert int(second.center_loss.num_updates) == 5


def ref_intra_weights(scores, labels, seen, scale):
    """The environment weights with lists and the math module."""
    out = [0.0] * len(scores)
    for c in sorted({labels[i] for i in range(len(scores)) if seen[i]}):
        idx = [i for i in range(len(scores)) if seen[i] and labels[i] == c]
        n = len(idx)
        if n < 5:
            for i in idx:
                out[i] = 1.0 / n
            continue
        s = [scores[i] for i in idx]
        lo = min(s)
        s = [v - lo for v in s]
        hi = max(s)
        h = [abs(1.0 - v / (hi + 1e-9)) + 1e-5 for v in s]
        ordered = sorted(h)
        head = sum(ordered[:int(0.8 * n)]) / int(0.8 * n)
        tail = sum(ordered[n - int(0.2 * n):]) / int(0.2 * n)
        e = math.log(scale) / math.log(tail / head + 1e-5)
        e = min(max(e, 1.0), 10.0)
        w = [v**e + 1e-12 for v in h]
        for i, v in zip(idx, w):
            out[i] = v / sum(w)
    return out


def test_environment_weights_match_the_hand_computation():
    rng = np.random.default_rng(0)
    labels = [0] * 12 + [1] * 3 + [2] * 7 + [3] * 2
    scores = rng.uniform(0.01, 0.99, len(labels)).tolist()
    scores[15:22] = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9]  # one easy image
    seen = [True] * len(labels)
    seen[3] = seen[22] = seen[23] = False  # class 3 never recorded
    got = ifl_intra_weights(torch.tensor(scores, dtype=torch.float64),
                            torch.tensor(labels),
                            torch.tensor(seen), 4.0)
    ref = ref_intra_weights(scores, labels, seen, 4.0)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-15)
    assert got[3] == 0 and got[22] == 0 and got[23] == 0
    for c in (0, 1, 2):  # every recorded class weighs 1 in all
        mask = (torch.tensor(labels) == c) & torch.tensor(seen)
        assert got[mask].sum().item() == pytest.approx(1.0)
    # Harder images (lower true-class probability) are drawn more often.
    cls0 = [i for i in range(12) if seen[i]]
    order = sorted(cls0, key=lambda i: scores[i])
    assert got[order[0]] > got[order[-1]]


class Labels:
    """A dataset's labels, as the samplers read them."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return np.asarray(self.labels)


def test_sampler_interleaves_the_environments():
    data = Labels([0] * 6 + [1] * 3 + [2])
    sampler = IFLEnvSampler(data, seed=3)
    weights = torch.zeros(10, dtype=torch.float64)
    weights[[7, 9]] = 1.0  # the re-weighted environment: images 7 and 9
    sampler.set_env_weights(weights)
    idx = list(sampler)
    assert len(idx) == len(sampler) == 20
    assert set(idx[1::2]) <= {7, 9}
    assert len(set(idx[0::2])) > 2  # the other environment: all images
    assert list(sampler) == idx  # the same epoch, the same draws
    sampler.set_epoch(1)
    assert list(sampler) != idx
    # Two ranks split the pairs of one shared draw.
    ranks = []
    for rank in (0, 1):
        s = IFLEnvSampler(data, seed=3)
        s.rank, s.world_size = rank, 2
        s.total_pairs, s.num_pairs = 10, 5
        ranks.append(list(s))
    first, second = IFLEnvSampler(data, seed=3).pairs()
    assert ranks[0][0::2] == first[0::2].tolist()
    assert ranks[1][1::2] == second[1::2].tolist()


@pytest.mark.parametrize('build, match', [
    (lambda: center_loss(milestones=[0, 2], weights=[0.1]),
     'same length'),
    (lambda: center_loss(milestones=[3, 3], weights=[0.1, 0.2]),
     'increase strictly'),
    (lambda: center_loss(milestones=[0, 2], weights=[0.1, -1.0]),
     r'weights must be finite numbers >= 0, got \[0.1, -1.0\]'),
    (lambda: center_loss(milestones=[-1], weights=[0.1]),
     'milestones must be epochs'),
    (lambda: center_loss(center_lr=0.7), 'center_lr must be in'),
    (lambda: center_loss(feat_dim=0), 'feat_dim must be a positive'),
    (lambda: MODELS.build(dict(type='IFLLinearClsHead', num_classes=C,
                               in_channels=D,
                               center_loss=dict(feat_dim=D + 1))),
     'feat_dim=7 but the head has'),
    (lambda: IFLHook(sample_scale=0), 'sample_scale must be a positive'),
    (lambda: IFLHook(update_milestones=[2.5]), 'update_milestones must'),
    (lambda: IFLEnvSampler(Labels([0, 1]), seed=0).set_env_weights(
        [1.0, 2.0, 3.0]), r'need 2 environment weights'),
    (lambda: IFLEnvSampler(Labels([0, 1]), seed=0).set_env_weights(
        [0.0, float('nan')]), 'finite, >= 0 and not all 0'),
])
def test_bad_values_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def runner_cfg(tmp_path, work, resume_from=None):
    data = tmp_path / 'data'
    if not (data / 'train.txt').exists():
        write_image_list(str(data), [6, 3, 2], size=32)
    return dict(
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='LeNet5'),  # 1-channel 32-px images
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='IFLLinearClsHead', num_classes=3,
                      in_channels=120,
                      center_loss=dict(milestones=[0], weights=[0.01]))),
        work_dir=str(tmp_path / work),
        train_dataloader=dict(
            batch_size=4, num_workers=0,
            dataset=dict(type='CustomDataset', data_root=str(data),
                         ann_file='train.txt',
                         pipeline=[dict(type='LoadImageFromFile',
                                        color_type='grayscale'),
                                   dict(type='PackInputs')]),
            sampler=dict(type='IFLEnvSampler')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        default_hooks=dict(
            class_counts=dict(type='ClassCountsHook'),
            ifl=dict(type='IFLHook', update_milestones=[0]),
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=100)),
        default_scope='mmpretrain',
        randomness=dict(seed=0),
        load_from=resume_from, resume=resume_from is not None,
        log_level='WARNING')


def test_training_rebuilds_the_environment_and_resumes_exactly(tmp_path):
    runner = Runner.from_cfg(runner_cfg(tmp_path, 'run'))
    runner.train()
    ckpt = torch.load(tmp_path / 'run' / 'epoch_1.pth', weights_only=False)
    weights = ckpt['ifl_env_weights']
    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 2)
    assert not torch.equal(weights, torch.ones(11, dtype=torch.float64))
    for c in range(3):  # class-balanced: every recorded class weighs 1
        assert weights[labels == c].sum().item() == pytest.approx(1.0)
    final = runner.model.head.center_loss
    assert int(final.num_updates) > 0
    resumed = Runner.from_cfg(runner_cfg(
        tmp_path, 'resumed', resume_from=str(tmp_path / 'run' /
                                             'epoch_1.pth')))
    resumed.train()
    again = resumed.model.head.center_loss
    assert torch.equal(again.centers, final.centers)
    assert torch.equal(again.num_updates, final.num_updates)
    sampler = resumed.train_dataloader.sampler
    assert torch.equal(sampler.env_weights,
                       runner.train_dataloader.sampler.env_weights)


def _rank_main(rank, out):
    loss_fn = center_loss(milestones=[0], weights=[0.1]).train()
    loss_fn.set_epoch(0, 1)
    for step in range(3):
        # Local batches of different sizes (3 and 5 images).
        x, y = features(10 * step + rank, n=3 + 2 * rank)
        loss_fn(x, y)
    torch.save(loss_fn.centers, f'{out}/rank{rank}.pt')
    sampler = IFLEnvSampler(Labels([0] * 5 + [1] * 2), seed=1)
    torch.save(torch.tensor(list(sampler)), f'{out}/idx{rank}.pt')


@pytest.mark.slow  # two processes (gloo)
def test_two_ranks_hold_the_centres_of_the_whole_batch(tmp_path):
    run_on_two_ranks(_rank_main, tmp_path)
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    assert torch.equal(rank0, rank1)
    # Each step is the released rule on the 8 images of both ranks.
    centres = center_loss().centers.double().numpy()
    for step in range(3):
        x0, y0 = features(10 * step, n=3)
        x1, y1 = features(10 * step + 1, n=5)
        centres = ref_sgd_step(torch.cat([x0, x1]), torch.cat([y0, y1]),
                               centres)
    np.testing.assert_allclose(rank0.double().numpy(), centres, rtol=1e-6,
                               atol=1e-6)
    # The sampler: 7 images padded to 8 pairs, 4 pairs a rank.
    idx0 = torch.load(tmp_path / 'idx0.pt', weights_only=True)
    idx1 = torch.load(tmp_path / 'idx1.pt', weights_only=True)
    assert len(idx0) == len(idx1) == 8
    whole = IFLEnvSampler(Labels([0] * 5 + [1] * 2), seed=1)
    whole.total_pairs = 8
    first, second = whole.pairs()
    assert idx0[0::2].tolist() == first[0::2].tolist()
    assert idx1[1::2].tolist() == second[1::2].tolist()
