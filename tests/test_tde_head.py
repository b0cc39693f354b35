"""TDEClsHead (Deconfound-TDE) against a float64 computation written out
here slice by slice: training logits, the moving-average direction, the
test-time counterfactual logits, checkpoints, bad arguments and two
data-parallel ranks."""
import io
import math

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from two_ranks import run_on_two_ranks

C, D = 4, 6  # classes, feature dimension


def build(**kwargs):
    cfg = dict(type='TDEClsHead', num_classes=C, in_channels=D)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def samples(n):
    return [DataSample().set_gt_label(i % C) for i in range(n)]


def features(seed, n=5):
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def ref_logits(x, w, num_head, tau, gamma, alpha=0.0, direction=None):
    """Slice by slice in numpy: ``tau/K * sum_h (x_h/|x_h| - alpha cos_h
    d_h/|d_h|) . w_jh/(|w_jh| + gamma)``, ``cos_h`` the cosine of ``x_h``
    and ``d_h``."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    step = x.shape[1] // num_head
    out = np.zeros((x.shape[0], w.shape[0]))
    for n in range(x.shape[0]):
        for j in range(w.shape[0]):
            total = 0.0
            for h in range(num_head):
                part = slice(h * step, (h + 1) * step)
                xh = x[n, part] / math.sqrt(np.sum(x[n, part]**2))
                wjh = w[j, part]
                wjh = wjh / (math.sqrt(np.sum(wjh**2)) + gamma)
                if direction is not None:
                    dh = np.asarray(direction, np.float64)[part]
                    dh = dh / math.sqrt(np.sum(dh**2))
                    cos = float(np.dot(xh, dh))
                    xh = xh - alpha * cos * dh
                total += float(np.dot(xh, wjh))
            out[n, j] = tau / num_head * total
    return out


def ref_direction(batches, momentum):
    """``d <- m d + (1 - m) mean(batch)`` from ``d = 0``."""
    d = np.zeros(D)
    for b in batches:
        d = momentum * d + (1 - momentum) * np.asarray(b).mean(axis=0)
    return d


@pytest.mark.parametrize('num_head', [1, 2, 3])
def test_training_logits_direction_and_tde_logits(num_head):
    tau, alpha, gamma, momentum = 16.0, 3.0, 1 / 32, 0.9
    head = build(num_head=num_head, tau=tau, alpha=alpha, gamma=gamma,
                 momentum=momentum).double()
    w = head.weight.detach().numpy().copy()
    batches = [features(seed) for seed in range(3)]

    head.train()
    for b in batches:
        # Training logits: the causal normalised classifier, no removal.
        np.testing.assert_allclose(
            head((b, )).detach().numpy(),
            ref_logits(b, w, num_head, tau, gamma), rtol=1e-12, atol=1e-12)
        loss = head.loss((b, ), samples(len(b)))['loss']
        logp = torch.log_softmax(
            torch.as_tensor(ref_logits(b, w, num_head, tau, gamma)), dim=1)
        expected = -logp[torch.arange(len(b)), torch.arange(len(b)) % C]
        assert loss.item() == pytest.approx(expected.mean().item(), rel=1e-12)

    d = ref_direction(batches, momentum)
    np.testing.assert_allclose(head.mean_feature.numpy(), d, rtol=1e-12,
                               atol=1e-15)
    # The authors' un-normalised d <- m d + mean(batch) points the same
    # way, so it gives the same test-time logits.
    d_authors = np.zeros(D)
    for b in batches:
        d_authors = momentum * d_authors + b.numpy().mean(axis=0)
    test = features(10, n=7)
    expected = ref_logits(test, w, num_head, tau, gamma, alpha, d)
    np.testing.assert_allclose(
        expected, ref_logits(test, w, num_head, tau, gamma, alpha,
                             d_authors), rtol=1e-12, atol=1e-12)

    head.eval()
    np.testing.assert_allclose(head((test, )).detach().numpy(), expected,
                               rtol=1e-12, atol=1e-12)
    # predict ranks by the counterfactual logits.
    preds = head.predict((test, ))
    assert [int(p.pred_label) for p in preds] == \
        expected.argmax(axis=1).tolist()
    # Evaluation moves nothing.
    head.loss((test, ), samples(len(test)))
    np.testing.assert_allclose(head.mean_feature.numpy(), d, rtol=1e-12,
                               atol=1e-15)


def test_removal_is_off_without_tde_alpha_or_a_direction():
    x = features(3)
    for kwargs in (dict(use_tde=False), dict(alpha=0.0), dict()):
        head = build(num_head=2, **kwargs).double()
        if kwargs:
            head.train()
            head.loss((features(4), ), samples(5))
        w = head.weight.detach().numpy()
        head.eval()
        # With no removal (or a zero direction: an untrained head) the
        # test-time logits are the training ones, never NaN.
        np.testing.assert_allclose(head((x, )).detach().numpy(),
                                   ref_logits(x, w, 2, 16.0, 1 / 32),
                                   rtol=1e-12, atol=1e-12)


def test_float32_head_and_gradients():
    head = build(num_head=2)
    x = features(5).float().requires_grad_()
    loss = head.loss((x, ), samples(5))['loss']
    loss.backward()
    assert head.weight.grad is not None and x.grad is not None
    assert head.mean_feature.dtype == torch.float32
    assert not head.mean_feature.requires_grad
    np.testing.assert_allclose(head.mean_feature.numpy(),
                               ref_direction([x.detach().double()], 0.9),
                               rtol=1e-5, atol=1e-7)


def test_direction_is_a_buffer_that_round_trips_and_resumes():
    head = build(num_head=2, momentum=0.995)
    names = [n for n, _ in head.named_parameters()]
    assert names == ['weight']
    for seed in range(2):
        head.loss((features(seed).float(), ), samples(5))
    buf = io.BytesIO()
    torch.save(head.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert torch.equal(state['mean_feature'], head.mean_feature)

    resumed = build(num_head=2, momentum=0.995)
    assert not torch.equal(resumed.mean_feature, head.mean_feature)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.mean_feature, head.mean_feature)
    # A resumed run continues exactly.
    for h in (head, resumed):
        h.loss((features(7).float(), ), samples(5))
    assert torch.equal(resumed.mean_feature, head.mean_feature)
    test = features(8).float()
    head.eval()
    resumed.eval()
    assert torch.equal(head((test, )), resumed((test, )))


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=6, num_head=4), 'num_head must divide in_channels, '
     'got num_head=4 for in_channels=6'),
    (dict(num_head=0), 'num_head must be a positive integer, got 0'),
    (dict(num_head=1.5), 'num_head must be a positive integer, got 1.5'),
    (dict(tau=-1.0), 'tau must be a positive finite number, got -1.0'),
    (dict(tau=0), 'tau must be a positive finite number, got 0'),
    (dict(tau=float('inf')), 'tau must be a positive finite number'),
    (dict(alpha=-0.5), 'alpha must be a finite number >= 0, got -0.5'),
    (dict(gamma=float('nan')), 'gamma must be a finite number >= 0, got nan'),
    (dict(momentum=1.0), r'momentum must be in \[0, 1\), got 1.0'),
    (dict(momentum=-0.1), r'momentum must be in \[0, 1\), got -0.1'),
    (dict(num_classes=0), 'num_classes must be a positive integer, got 0'),
    (dict(in_channels=None), 'in_channels must be a positive integer'),
])
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match='TDEClsHead: ' + match):
        build(**kwargs)


def _rank_main(rank, out):
    torch.manual_seed(0)  # the same initial weights on both ranks
    head = build(num_head=2, momentum=0.9).double()
    for step in range(3):
        # Local batches of different sizes (3 and 5 images).
        head.loss((features(10 * step + rank, n=3 + 2 * rank), ),
                  samples(3 + 2 * rank))
    torch.save(head.mean_feature, f'{out}/rank{rank}.pt')


@pytest.mark.slow  # two processes (gloo)
def test_two_ranks_hold_the_direction_of_the_whole_batch(tmp_path):
    run_on_two_ranks(_rank_main, tmp_path)
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    assert torch.equal(rank0, rank1)
    # Each step's mean is over the 8 images of both ranks together.
    whole = [torch.cat([features(10 * step, n=3),
                        features(10 * step + 1, n=5)]) for step in range(3)]
    np.testing.assert_allclose(rank0.numpy(), ref_direction(whole, 0.9),
                               rtol=1e-12, atol=1e-15)
