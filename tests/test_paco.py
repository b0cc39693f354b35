"""PaCo (parametric contrastive learning) and DSB-PaCo: the loss against a
hand computation, the queue, the key encoder, the DSB weighting and the
queue of two data-parallel ranks."""
import io
import math

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.engine import SemanticScaleWeighter
from mmdsb.engine.dsb_banks import find_consumers
from mmdsb.engine.stages import DSBStage
from two_ranks import run_on_two_ranks

C, FEAT = 4, 120  # classes; LeNet-5 features after pooling
COUNTS = [5, 3, 2, 1]


# ------------------------------------------------------- the reference
def ref_per_anchor(z, q, k, y, queue, queue_y, counts, alpha, beta, gamma,
                   t, supt=1.0, base_t=None):
    """PaCo's per-anchor loss written out term by term in float64."""
    base_t = t if base_t is None else base_t
    z, q, k, queue = (np.asarray(a, dtype=np.float64)
                      for a in (z, q, k, queue))
    y, queue_y = [int(v) for v in y], [int(v) for v in queue_y]
    n = len(y)
    entries = list(q) + list(k) + list(queue)
    entry_y = y + y + queue_y
    total = float(sum(counts))
    out = []
    for i in range(n):
        centre = [(z[i, c] + math.log(counts[c] / total + 1e-9)) / supt
                  for c in range(len(counts))]
        sims = {j: float(np.dot(q[i], v)) / t
                for j, v in enumerate(entries) if j != i}
        den = sum(math.exp(s) for s in centre) + gamma * sum(
            math.exp(s) for s in sims.values())
        num = beta * (centre[y[i]] - math.log(den))
        weight = beta
        for j, s in sims.items():
            if entry_y[j] == y[i]:
                num += alpha * (s - math.log(den))
                weight += alpha
        out.append(-(t / base_t) * num / weight)
    return np.array(out)


def unit(x):
    return x / x.norm(dim=1, keepdim=True)


def batch(seed, n=6, dim=5, queue_len=7):
    g = torch.Generator().manual_seed(seed)
    return dict(
        cls_score=torch.randn(n, C, generator=g, dtype=torch.float64),
        query=unit(torch.randn(n, dim, generator=g, dtype=torch.float64)),
        keys=unit(torch.randn(n, dim, generator=g, dtype=torch.float64)),
        labels=torch.randint(0, C, (n, ), generator=g),
        queue=unit(torch.randn(queue_len, dim, generator=g,
                               dtype=torch.float64)),
        queue_labels=torch.randint(0, C, (queue_len, ), generator=g))


def reference(b, **kw):
    return ref_per_anchor(b['cls_score'], b['query'], b['keys'],
                          b['labels'], b['queue'], b['queue_labels'],
                          COUNTS, **kw)


@pytest.mark.parametrize('kw', [
    dict(alpha=0.05, beta=1.0, gamma=1.0, t=0.07),
    dict(alpha=0.3, beta=0.7, gamma=0.5, t=0.2, supt=1.5, base_t=0.4),
])
def test_loss_matches_the_hand_computation(kw):
    loss = MODELS.build(
        dict(type='PaCoLoss', alpha=kw['alpha'], beta=kw['beta'],
             gamma=kw['gamma'], temperature=kw['t'],
             supt=kw.get('supt', 1.0), base_temperature=kw.get('base_t'),
             class_counts=COUNTS))
    b = batch(0)
    ref = reference(b, **kw)
    np.testing.assert_allclose(loss(**b).item(), ref.mean(), rtol=1e-9)
    w = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.25, 1.5], dtype=torch.float64)
    np.testing.assert_allclose(
        loss(**b, weight=w).item(), np.mean(w.numpy() * ref), rtol=1e-9)
    # float32 scores (training) agree to float32 precision.
    b32 = {k: (v.float() if v.is_floating_point() else v)
           for k, v in b.items()}
    np.testing.assert_allclose(loss(**b32).item(), ref.mean(), rtol=1e-5)


def test_loss_needs_counts_and_names_bad_values():
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        MODELS.build(dict(type='PaCoLoss'))(**batch(0))
    with pytest.raises(ValueError, match='alpha must be .* got -1'):
        MODELS.build(dict(type='PaCoLoss', alpha=-1))
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(dict(type='PaCoLoss', temperature=0))
    with pytest.raises(ValueError, match='alpha and beta'):
        MODELS.build(dict(type='PaCoLoss', alpha=0, beta=0))


# ----------------------------------------------------------- the model
def build_model(head='PaCoHead', queue_size=5, momentum=0.9, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(type='PaCoClassifier',
             backbone=dict(type='LeNet5', num_classes=-1),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type=head, num_classes=C, in_channels=FEAT,
                       loss=dict(type='PaCoLoss', alpha=0.3, beta=1.0,
                                 gamma=1.0, temperature=0.2,
                                 class_counts=COUNTS)),
             proj_dim=6, queue_size=queue_size, momentum=momentum,
             data_preprocessor=dict(mean=[0.] * 3, std=[1.] * 3)))
    model.init_weights()
    return model.train()


def samples(labels):
    return [DataSample().set_gt_label(int(v)) for v in labels]


def views(seed, n=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, 32, 32, generator=g) for _ in range(2)]


def test_queue_is_fifo_and_wraps():
    model = build_model(queue_size=5)
    start = model.queue.clone()
    state = [(start[i].clone(), int(model.queue_labels[i]))
             for i in range(5)]
    ptr = 0
    for step, n in enumerate([3, 3, 1, 7]):
        keys = torch.randn(n, 6)
        labels = torch.arange(n) + 10 * step
        model.enqueue(keys, labels)
        for key, label in zip(keys, labels.tolist()):  # one at a time
            state[ptr] = (key, label)
            ptr = (ptr + 1) % 5
        assert int(model.queue_ptr) == ptr
        assert model.queue_labels.tolist() == [s[1] for s in state]
        assert torch.equal(model.queue, torch.stack([s[0] for s in state]))


def test_a_step_uses_the_queue_before_it_and_enqueues_the_keys():
    model = build_model(queue_size=10)
    before = model.queue.clone(), model.queue_labels.clone()
    seen = {}
    loss_module = model.head.loss_module
    original = loss_module.forward

    def spy(cls_score, query, keys, labels, queue, queue_labels, **kw):
        seen.update(keys=keys, queue=queue, queue_labels=queue_labels,
                    labels=labels)
        return original(cls_score, query, keys, labels, queue,
                        queue_labels, **kw)

    loss_module.forward = spy
    inputs, y = views(1), [0, 1, 3, 3]
    out = model(inputs, samples(y), mode='loss')
    assert torch.equal(seen['queue'], before[0])
    assert torch.equal(seen['queue_labels'], before[1])
    assert seen['labels'].tolist() == y
    assert torch.equal(model.queue[:4], seen['keys'])
    assert model.queue_labels[:4].tolist() == y
    assert torch.equal(model.queue[4:], before[0][4:])
    assert int(model.queue_ptr) == 4
    # The keys come from the key encoder, normalised, without gradients.
    assert not seen['keys'].requires_grad
    np.testing.assert_allclose(seen['keys'].norm(dim=1).numpy(), 1.0,
                               rtol=1e-5)
    torch.testing.assert_close(model.key_features(inputs[1]), seen['keys'])
    out['loss'].backward()
    assert all(p.grad is None for p in model.key_encoder.parameters())
    assert model.head.fc.weight.grad is not None
    assert model.projector[0].weight.grad is not None


def test_the_key_encoder_is_a_momentum_copy():
    model = build_model(momentum=0.9)
    pairs = [(model.backbone, model.key_encoder['backbone']),
             (model.projector, model.key_encoder['projector'])]
    for query, key in pairs:  # a copy after init_weights
        for p_q, p_k in zip(query.parameters(), key.parameters()):
            assert torch.equal(p_q, p_k) and not p_k.requires_grad
    with torch.no_grad():
        for query, _ in pairs:
            for p in query.parameters():
                p.add_(torch.randn_like(p))
    old = [[(p_q.clone(), p_k.clone()) for p_q, p_k in zip(
        q.parameters(), k.parameters())] for q, k in pairs]
    model.momentum_update()
    for (query, key), olds in zip(pairs, old):
        for p_k, (q0, k0) in zip(key.parameters(), olds):
            torch.testing.assert_close(p_k, 0.9 * k0 + 0.1 * q0)


def test_queue_and_centres_round_trip_through_the_state_dict():
    first = build_model(queue_size=10)
    for step in range(2):
        first(views(step), samples([0, 1, 2, 3]), mode='loss')
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    second = build_model(queue_size=10, seed=1)
    assert not torch.equal(second.head.fc.weight, first.head.fc.weight)
    second.load_state_dict(torch.load(buf, weights_only=True))
    for name in ('queue', 'queue_labels', 'queue_ptr', 'head.fc.weight',
                 'head.fc.bias', 'key_encoder.projector.3.weight'):
        assert torch.equal(first.state_dict()[name],
                           second.state_dict()[name]), name
    assert int(second.queue_ptr) == 8


def test_prediction_is_the_linear_head_and_one_view_is_refused():
    model = build_model().eval()
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        pooled = model.backbone(x)[-1].mean(dim=(2, 3))
        scores = model(x, mode='tensor')
    torch.testing.assert_close(scores, model.head.fc(pooled))
    with pytest.raises(ValueError, match='MultiView'):
        model.train()(x, samples([0, 1, 2]), mode='loss')


def test_preprocessor_normalises_each_view():
    pre = MODELS.build(dict(type='MultiViewClsDataPreprocessor',
                            mean=[1., 2., 3.], std=[2., 2., 2.]))
    imgs = [[torch.full((3, 4, 4), float(v + i)) for i in range(2)]
            for v in (10, 20)]  # pseudo_collate: views of samples
    out = pre(dict(inputs=imgs, data_samples=samples([0, 1])), True)
    assert len(out['inputs']) == 2
    for view, v in zip(out['inputs'], (10, 20)):
        assert view.shape == (2, 3, 4, 4)
        expect = (torch.tensor([v, v + 1.])[:, None] - torch.tensor(
            [1., 2., 3.])) / 2
        torch.testing.assert_close(view[:, :, 0, 0], expect)
    single = pre(dict(inputs=imgs[0], data_samples=samples([0, 1])))
    assert single['inputs'].shape == (2, 3, 4, 4)


# ----------------------------------------------------------------- DSB
def weighter_at(stage):
    w = SemanticScaleWeighter(bank_dim=8)
    w.init_bank(capacity=64, num_classes=C, device='cpu')
    w.stage = stage
    return w


def head_pair():
    plain = MODELS.build(dict(type='PaCoHead', num_classes=C,
                              in_channels=FEAT,
                              loss=dict(type='PaCoLoss', alpha=0.3,
                                        temperature=0.2,
                                        class_counts=COUNTS)))
    dsb = MODELS.build(dict(type='DSBPaCoHead', num_classes=C,
                            in_channels=FEAT,
                            loss=dict(type='PaCoLoss', alpha=0.3,
                                      temperature=0.2,
                                      class_counts=COUNTS)))
    dsb.load_state_dict(plain.state_dict())
    return plain, dsb


def contrast(seed, y):
    g = torch.Generator().manual_seed(seed)
    n = len(y)
    return dict(query=unit(torch.randn(n, 6, generator=g)),
                keys=unit(torch.randn(n, 6, generator=g)),
                queue=unit(torch.randn(5, 6, generator=g)),
                queue_labels=torch.randint(0, C, (5, ), generator=g))


def pooled(seed, y):
    g = torch.Generator().manual_seed(seed)
    y = torch.as_tensor(y)
    # Classes differ in spread, so that their DSB weights differ.
    return torch.randn(len(y), FEAT, generator=g) * (1 + y[:, None])


@pytest.mark.parametrize('stage', [DSBStage.FILL, DSBStage.SLIDE])
def test_dsb_paco_equals_paco_outside_reweighting(stage):
    plain, dsb = head_pair()
    dsb.dsb_weighter = weighter_at(stage)
    y = [0, 1, 2, 3, 3, 0]
    for step in range(2):
        feats, extra = (pooled(step, y), ), contrast(step, y)
        a = plain.loss(feats, samples(y), **extra)
        b = dsb.loss(feats, samples(y), **extra)
        assert torch.equal(a['loss'], b['loss'])
    assert dsb.dsb_weighter.bank.size > 0  # the bank saw the batches


def test_dsb_paco_weights_each_anchor_by_its_class():
    _, dsb = head_pair()
    dsb.dsb_weighter = w = weighter_at(DSBStage.FILL)
    y = [0, 1, 2, 3] * 3
    for step in range(4):  # fill the bank through the head
        dsb.loss((pooled(10 + step, y), ), samples(y), **contrast(step, y))
    w.stage = DSBStage.REWEIGHT
    feats, extra = pooled(3, y), contrast(3, y)
    out = dsb.loss((feats, ), samples(y), **extra)
    a = w.class_weights(record=False).double().numpy()
    assert np.std(a) > 1e-3  # the weights are not trivially uniform
    with torch.no_grad():
        z = dsb.fc(feats).double()
    per = ref_per_anchor(z, extra['query'].double(), extra['keys'].double(),
                         y, extra['queue'].double(), extra['queue_labels'],
                         COUNTS, alpha=0.3, beta=1.0, gamma=1.0, t=0.2)
    assert out['loss'].item() == pytest.approx(
        float(np.mean(a[np.array(y)] * per)), rel=1e-5)


def test_dsb_hook_finds_the_head_of_dsb_paco():
    model = build_model(head='DSBPaCoHead')
    assert list(find_consumers(model)) == ['head']
    model.head.dsb_weighter = weighter_at(DSBStage.FILL)
    model(views(0), samples([0, 1, 2, 3]), mode='loss')
    # The bank holds the classifier input: the pooled query features.
    assert model.head.dsb_weighter.feat_dim == FEAT


# ----------------------------------------------------- two ranks (gloo)
def _rank_main(rank, out):
    model = build_model(queue_size=12)
    for step in range(4):
        # Different images and labels on each rank.
        y = [(rank + step + i) % C for i in range(4)]
        out_step = model(views(100 * step + rank), samples(y),
                         mode='loss')
        out_step['loss'].backward()
    # Ranks of different batch sizes.
    model.enqueue(torch.full((1 + rank, 6), float(rank)),
                  torch.full((1 + rank, ), rank))
    torch.save(dict(queue=model.queue, labels=model.queue_labels,
                    ptr=model.queue_ptr), f'{out}/rank{rank}.pt')


@pytest.mark.slow  # two processes (gloo)
def test_two_ranks_hold_the_same_queue(tmp_path):
    run_on_two_ranks(_rank_main, tmp_path)
    r0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    for key in ('queue', 'labels', 'ptr'):
        assert torch.equal(r0[key], r1[key]), key
    # 4 steps x 8 keys + 3 = 35 keys into 12 slots: the pointer is at
    # 35 % 12 = 11; the last 3 are rank 0's key then rank 1's two keys.
    assert int(r0['ptr']) == 11
    assert r0['labels'][8:11].tolist() == [0, 1, 1]
    # Step 3 (keys 24..31, slots 0..7): rank 0's labels, then rank 1's.
    assert r0['labels'][0:8].tolist() == [
        (r + 3 + i) % C for r in (0, 1) for i in range(4)]
