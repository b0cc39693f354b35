"""BBN: the reversed sampler's probabilities, the bilateral pairs, the
cumulative-learning adaptor, the mixed loss and the inference logits
against float64 computations written here, and alpha through a resumed
Runner."""
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.datasets import BilateralSampler, DigitsLT, ReversedSampler
from mmdsb.models import bbn_alpha

COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]  # DigitsLT, rho = 50


@pytest.fixture(scope='module')
def digits():
    return DigitsLT(split='train', imbalance_ratio=50, pipeline=[])


def test_reversed_sampling_weights_are_exact(digits):
    sampler = ReversedSampler(digits, seed=0)
    inv = [1 / n for n in COUNTS]
    p = [v / sum(inv) for v in inv]
    assert sampler.class_probabilities.tolist() == pytest.approx(p, rel=1e-12)
    labels = np.asarray(digits.get_gt_labels())
    # Each image of class c: p_c / N_c; the weights of a class sum to p_c.
    expected = [p[y] / COUNTS[y] for y in labels]
    assert sampler.weights.tolist() == pytest.approx(expected, rel=1e-12)
    assert len(sampler) == len(digits) == 342


def test_reversed_frequencies_follow_the_formula(digits):
    sampler = ReversedSampler(digits, num_samples=200_000, seed=3)
    labels = np.asarray(digits.get_gt_labels())
    idx = np.fromiter(iter(sampler), dtype=np.int64)
    freq = np.bincount(labels[idx], minlength=10) / idx.size
    inv = 1 / np.asarray(COUNTS, dtype=np.float64)
    p = inv / inv.sum()
    # Five binomial standard deviations.
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / idx.size))
    assert freq[9] > freq[0] * 50  # the tail is drawn most often
    # Within a class every image is equally likely (class 3: 33 images).
    hits = np.bincount(idx, minlength=len(labels))[labels == 3]
    share = p[3] / 33
    assert np.all(np.abs(hits / idx.size - share) <
                  5 * np.sqrt(share / idx.size))


def test_bilateral_pairs_uniform_with_reversed(digits):
    sampler = BilateralSampler(digits, seed=1)
    idx = list(sampler)
    assert len(idx) == len(sampler) == 2 * 342
    # Even positions: one shuffled pass over the dataset.
    assert sorted(idx[0::2]) == list(range(342))
    assert idx[0::2] != list(range(342))
    # Odd positions: reversed draws, mostly from the tail.
    labels = np.asarray(digits.get_gt_labels())
    rev = labels[idx[1::2]]
    assert (rev >= 5).mean() > 0.6 and (labels[idx[0::2]] >= 5).mean() < 0.2
    assert list(sampler) == idx  # deterministic
    sampler.set_epoch(1)
    assert list(sampler) != idx


def test_adaptor_hand_values():
    assert bbn_alpha(0, 100) == 1.0
    assert bbn_alpha(10, 100) == pytest.approx(0.99)
    assert bbn_alpha(50, 100) == pytest.approx(0.75)
    assert bbn_alpha(89, 100) == pytest.approx(1 - 0.7921)
    assert bbn_alpha(3, 4) == pytest.approx(7 / 16)
    assert bbn_alpha(90, 90) == 0.0
    with pytest.raises(ValueError, match='epoch must be an integer in'):
        bbn_alpha(5, 4)
    with pytest.raises(ValueError, match='decay_epochs'):
        bbn_alpha(0, 0)


def tiny_bbn(num_classes=4, **kwargs):
    return MODELS.build(
        dict(type='BBNClassifier',
             backbone=dict(type='ResNet', depth=18, stem_channels=8,
                           base_channels=8),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=num_classes,
                       in_channels=128),
             **kwargs))


def test_branches_share_all_but_the_last_block():
    model = tiny_bbn()
    model.init_weights()
    assert len(model.backbone.layer4) == 1  # ResNet-18 has 2 blocks there
    cb = dict(model.cb_block.named_parameters())
    rb = dict(model.rb_block.named_parameters())
    assert cb.keys() == rb.keys()
    assert all(cb[k].data_ptr() != rb[k].data_ptr() for k in cb)
    keys = model.state_dict().keys()
    assert any(k.startswith('cb_block.') for k in keys)
    assert any(k.startswith('rb_block.') for k in keys)
    assert not any(k.startswith('backbone.layer4.1.') for k in keys)


def _ce(z, y):
    """Mean cross-entropy in float64, from the log-sum-exp."""
    return (torch.logsumexp(z, dim=1) - z[torch.arange(len(y)), y]).mean()


def _pooled(model, x, block):
    return block(model.backbone(x)[-1]).mean(dim=(2, 3))


def test_mixed_loss_and_inference_logits():
    torch.manual_seed(0)
    model = tiny_bbn().double()
    model.init_weights()
    with torch.no_grad():  # a head that is not all zero
        model.head.fc.weight.normal_(0, 0.5)
        model.head.fc.bias.normal_(0, 0.5)
    model.set_epoch(3, 10)
    alpha = 1 - (3 / 10)**2
    x = torch.randn(6, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 3, 2, 2])
    samples = [DataSample().set_gt_label(int(v)) for v in y]
    model.train()
    out = model(x, samples, mode='loss')
    assert out['bbn_alpha'].item() == pytest.approx(alpha)

    # Reference: separate passes, z = 2a W_c f_c + 2(1-a) W_r f_r + b.
    w, b = model.head.fc.weight, model.head.fc.bias
    w_c, w_r = w[:, :64], w[:, 64:]
    with torch.no_grad():
        f_c = _pooled(model, x[0::2], model.cb_block)
        f_r = _pooled(model, x[1::2], model.rb_block)
        z = 2 * alpha * f_c @ w_c.T + 2 * (1 - alpha) * f_r @ w_r.T + b
        ref = alpha * _ce(z, y[0::2]) + (1 - alpha) * _ce(z, y[1::2])
    assert out['loss'].item() == pytest.approx(ref.item(), rel=1e-10)

    # Inference: both branches on the same image, equal weights.
    model.eval()
    with torch.no_grad():
        logits = model(x, mode='tensor')
        ref = _pooled(model, x, model.cb_block) @ w_c.T + \
            _pooled(model, x, model.rb_block) @ w_r.T + b
    assert torch.allclose(logits, ref, rtol=1e-10, atol=1e-12)
    preds = model(x, mode='predict')
    assert [int(s.pred_label) for s in preds] == ref.argmax(1).tolist()


def test_clear_errors():
    model = tiny_bbn()
    x = torch.randn(4, 3, 16, 16)
    samples = [DataSample().set_gt_label(0) for _ in range(4)]
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        model(x, samples, mode='loss')  # no epoch yet
    model.set_epoch(0, 2)
    with pytest.raises(ValueError, match='5 images is not a whole number'):
        model(torch.randn(5, 3, 16, 16), samples + samples[:1], mode='loss')
    with pytest.raises(ValueError, match='decay_epochs=3 is shorter'):
        tiny_bbn(decay_epochs=3).set_epoch(0, 10)
    with pytest.raises(ValueError, match='must output its last stage'):
        MODELS.build(dict(type='BBNClassifier',
                          backbone=dict(type='ResNet', depth=18,
                                        out_indices=(2, 3))))
    with pytest.raises(TypeError, match='ResNet-style backbone'):
        MODELS.build(dict(type='BBNClassifier',
                          backbone=dict(type='LeNet5')))


class _Alphas(Hook):
    """The alpha of every training iteration, by epoch."""

    def __init__(self):
        self.seen = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.seen.setdefault(runner.epoch, set()).add(
            round(float(outputs['bbn_alpha']), 12))


def digits_runner(work_dir, max_epochs, resume_from=None):
    pipeline = [dict(type='PackInputs')]  # the 8 x 8 digits as they are
    alphas = _Alphas()
    runner = Runner(
        model=dict(
            type='BBNClassifier', decay_epochs=4,
            backbone=dict(type='ResNet', depth=18, in_channels=1,
                          stem_channels=8, base_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=128),
            data_preprocessor=dict(num_classes=10)),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=76, num_workers=0,  # 3 iterations an epoch
            dataset=dict(type='DigitsLT', split='train', imbalance_ratio=50,
                         indices=list(range(0, 342, 3)), pipeline=pipeline),
            sampler=dict(type='BilateralSampler', seed=0)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            class_counts=dict(type='ClassCountsHook'),
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=50)),
        custom_hooks=[alphas],
        load_from=resume_from, resume=resume_from is not None,
        default_scope='mmpretrain',
        experiment_name=f'bbn_{max_epochs}_{resume_from is not None}')
    return runner, alphas


def test_alpha_follows_the_epoch_through_a_resume(tmp_path):
    runner, alphas = digits_runner(tmp_path / 'a', 2)
    runner.train()
    assert alphas.seen == {0: {1.0}, 1: {round(1 - 1 / 16, 12)}}
    # Resumed from the end of epoch 2, epoch 3 gets alpha(2) at once.
    runner, alphas = digits_runner(tmp_path / 'b', 3,
                                   str(tmp_path / 'a' / 'epoch_2.pth'))
    runner.train()
    assert alphas.seen == {2: {round(1 - 4 / 16, 12)}}
    assert runner.model.alpha() == pytest.approx(0.75)
