"""EqualizationLossV2: the published loss, with label weights, average
factor, mmdet's head flags and statistics shared by all ranks."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

import mmdsb.det  # noqa: F401
from mmdet.models.losses import EQLV2Loss
from mmdet.registry import MODELS
from mmdsb.det.models import EqualizationLossV2

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MU, ALPHA, GAMMA = 0.8, 4.0, 12.0


def reference_loss(logits, labels, weight, avg_factor, ratio):
    """Float64 EQLv2 of the paper for the per-class gradient ratio
    ``ratio``: the loss and this batch's positive and negative gradients."""
    z = logits.double()
    n, channels = z.shape
    target = torch.zeros(n, channels, dtype=torch.float64)
    target[torch.arange(n), labels] = 1
    neg_w = torch.ones(channels, dtype=torch.float64)
    neg_w[:-1] = 1 / (1 + torch.exp(-GAMMA * (ratio - MU)))
    pos_w = 1 + ALPHA * (1 - neg_w)
    w = (pos_w * target + neg_w * (1 - target)) * weight.double()[:, None]
    p = torch.sigmoid(z)
    bce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))
    loss = (bce * w).sum() / avg_factor
    grad = (p - target).abs() * w
    pos_grad = (grad * target).sum(0)[:-1]
    neg_grad = (grad * (1 - target)).sum(0)[:-1]
    return loss, pos_grad, neg_grad


def batch(seed=0, n=8, num_classes=3):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, num_classes + 1, generator=gen) * 2
    labels = torch.randint(0, num_classes + 1, (n, ), generator=gen)
    return logits, labels


def test_loss_and_statistics_follow_the_paper_with_label_weights():
    loss_fn = EqualizationLossV2(num_classes=3)
    pos = torch.zeros(3, dtype=torch.float64)
    neg = torch.zeros(3, dtype=torch.float64)
    # Before any statistics the ratio is 100: both weights are 1.
    ratio = torch.full((3, ), 100., dtype=torch.float64)
    for step in range(3):
        logits, labels = batch(seed=step)
        weight = torch.rand(8, generator=torch.Generator().manual_seed(
            10 + step)) * 2
        weight[0] = 0  # an ignored RoI
        avg_factor = float((weight > 0).sum())
        expected, pos_step, neg_step = reference_loss(
            logits, labels, weight, avg_factor, ratio)
        pos, neg = pos + pos_step, neg + neg_step
        ratio = pos / (neg + 1e-10)
        loss = loss_fn(logits, labels, weight, avg_factor=avg_factor)
        torch.testing.assert_close(loss.double(), expected, rtol=1e-5,
                                   atol=1e-6)
        torch.testing.assert_close(loss_fn.pos_grad.double(), pos,
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(loss_fn.neg_grad.double(), neg,
                                   rtol=1e-5, atol=1e-6)
    # The statistics moved the weights away from 1.
    pos_w, neg_w = loss_fn.class_weights()
    assert not torch.allclose(neg_w[:-1], torch.ones(3))


def test_label_weights_and_avg_factor_change_the_loss_unlike_mmdet():
    logits, labels = batch(seed=3)
    ones = torch.ones(8)
    halved = ones.clone()
    halved[:4] = 0.5

    def losses(loss_cls, **kwargs):
        return [
            float(MODELS.build(loss_cls)(logits, labels, w, **kwargs))
            for w in (ones, halved)
        ]

    ours = losses(dict(type='EqualizationLossV2', num_classes=3))
    mmdet = losses(dict(type='EQLV2Loss', num_classes=3))
    assert ours[0] != pytest.approx(ours[1])
    # mmdet's EQLV2Loss ignores label_weights: the same check fails there.
    assert mmdet[0] == pytest.approx(mmdet[1])
    # ... and avg_factor.
    ours_avg = losses(dict(type='EqualizationLossV2', num_classes=3),
                      avg_factor=4.0)
    mmdet_avg = losses(dict(type='EQLV2Loss', num_classes=3),
                       avg_factor=4.0)
    assert ours_avg[0] == pytest.approx(ours[0] * 8 / 4)
    assert mmdet_avg[0] == pytest.approx(mmdet[0])


def test_box_head_gets_c_plus_1_outputs_and_custom_scores():
    head = MODELS.build(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=4,
            fc_out_channels=8,
            roi_feat_size=2,
            num_classes=3,
            loss_cls=dict(type='EqualizationLossV2', num_classes=3)))
    assert head.custom_cls_channels and head.custom_activation
    assert head.custom_accuracy
    assert head.fc_cls.out_features == 4
    # mmdet's own EQLV2Loss sets none of the flags.
    assert not getattr(EQLV2Loss(num_classes=3), 'custom_cls_channels',
                       False)
    logits, labels = batch(seed=5)
    scores = head.loss_cls.get_activation(logits)
    p = torch.sigmoid(logits)
    torch.testing.assert_close(scores[:, -1], p[:, -1])
    torch.testing.assert_close(scores[:, :-1], p[:, :-1] * (1 - p[:, -1:]))
    acc = head.loss_cls.get_accuracy(logits, labels)['acc']
    expected = (scores.argmax(1) == labels).float().mean() * 100
    torch.testing.assert_close(acc.reshape(()), expected)
    with pytest.raises(ValueError, match='num_classes=5'):
        EqualizationLossV2(num_classes=5).get_cls_channels(3)
    with pytest.raises(ValueError, match='expects 4 logits'):
        EqualizationLossV2(num_classes=3)(torch.zeros(2, 3),
                                          torch.zeros(2, dtype=torch.long))


WORKER = '''
import sys
import torch
import torch.distributed as dist
sys.path.insert(0, {root!r})
import mmdsb.det  # noqa: F401
from mmdsb.det.models import EqualizationLossV2

rank = int(sys.argv[1])
dist.init_process_group('gloo', init_method='tcp://127.0.0.1:{port}',
                        rank=rank, world_size=2)
gen = torch.Generator().manual_seed(rank)
loss_fn = EqualizationLossV2(num_classes=3)
for _ in range(2):
    logits = torch.randn(6, 4, generator=gen) * 2
    labels = torch.randint(0, 4, (6, ), generator=gen)
    loss_fn(logits, labels, torch.ones(6), avg_factor=6.)
torch.save(dict(pos=loss_fn.pos_grad, neg=loss_fn.neg_grad,
                ratio=loss_fn.pos_neg), {out!r} + f'/rank{{rank}}.pt')
dist.destroy_process_group()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes (gloo)
def test_statistics_are_all_reduced_over_two_ranks(tmp_path):
    script = tmp_path / 'worker.py'
    script.write_text(
        WORKER.format(root=ROOT, port=free_port(), out=str(tmp_path)))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    procs = [
        subprocess.Popen([sys.executable, str(script), str(rank)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True) for rank in range(2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out[-3000:]
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    for key in ('pos', 'neg', 'ratio'):
        assert torch.equal(rank0[key], rank1[key]), key
    # The shared statistics are those of both ranks' RoIs together.
    pos = torch.zeros(3, dtype=torch.float64)
    neg = torch.zeros(3, dtype=torch.float64)
    ratio = torch.full((3, ), 100., dtype=torch.float64)
    gens = [torch.Generator().manual_seed(r) for r in range(2)]
    for _ in range(2):
        for gen in gens:
            logits = torch.randn(6, 4, generator=gen) * 2
            labels = torch.randint(0, 4, (6, ), generator=gen)
            _, pos_step, neg_step = reference_loss(logits, labels,
                                                   torch.ones(6), 6., ratio)
            pos, neg = pos + pos_step, neg + neg_step
        ratio = pos / (neg + 1e-10)
    torch.testing.assert_close(rank0['pos'].double(), pos, rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(rank0['neg'].double(), neg, rtol=1e-5,
                               atol=1e-6)
