"""DiVE: the virtual-example soft targets and the loss against float64
computations written here; the teacher is loaded from its checkpoint,
frozen, left out of the student's checkpoints; clear errors name the
checkpoint."""
import math

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import load_state_dict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.models import DiVELoss, dive_soft_targets

COUNTS = [40, 10, 5, 1]


def hand_targets(z, tau, power):
    """Row by row: q = softmax(z / tau), t = q^power / sum q^power."""
    out = []
    for row in np.asarray(z, dtype=np.float64):
        e = [math.exp(v / tau) for v in row]
        q = [v / sum(e) for v in e]
        qp = [v**power for v in q]
        out.append([v / sum(qp) for v in qp])
    return np.array(out)


def hand_loss(zs, zt, y, tau, power, lam, counts):
    """(1 - lam) * mean BSCE + lam * tau^2 * mean KL(t || softmax(zs/tau))."""
    t = hand_targets(zt, tau, power)
    prior = [n / sum(counts) for n in counts]
    bsce, kl = [], []
    for row, trow, label in zip(np.asarray(zs, np.float64), t, y):
        adj = [v + math.log(p) for v, p in zip(row, prior)]
        lse = math.log(sum(math.exp(v) for v in adj))
        bsce.append(lse - adj[label])
        s = [math.exp(v / tau) for v in row]
        log_s = [math.log(v / sum(s)) for v in s]
        kl.append(sum(a * (math.log(a) - b) for a, b in zip(trow, log_s)))
    return (1 - lam) * np.mean(bsce) + lam * tau**2 * np.mean(kl)


def test_soft_targets_match_the_hand_computation():
    zt = torch.tensor([[2.0, -1.0, 0.5, 4.0], [0.0, 0.0, 0.0, 0.0],
                       [10.0, -3.0, 1.0, 2.0]], dtype=torch.float64)
    for tau, power in ((3.0, 0.5), (1.0, 1.0), (2.0, 0.25)):
        t = dive_soft_targets(zt, tau, power)
        assert np.allclose(t.numpy(), hand_targets(zt, tau, power),
                           rtol=1e-12, atol=0)
    # Power normalisation flattens: the top class loses share.
    assert dive_soft_targets(zt, 3.0, 0.5)[2, 0] < \
        dive_soft_targets(zt, 3.0, 1.0)[2, 0]


@pytest.mark.parametrize('tau,power,lam', [(3.0, 0.5, 0.5), (2.0, 1.0, 0.3),
                                           (3.0, 0.5, 0.0)])
def test_loss_matches_the_hand_computation(tau, power, lam):
    g = torch.Generator().manual_seed(0)
    zs = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3
    zt = torch.randn(5, 4, generator=g, dtype=torch.float64) * 3
    y = torch.tensor([0, 1, 3, 2, 0])
    loss = DiVELoss(temperature=tau, power=power, distill_weight=lam)
    loss.base_loss.set_class_counts(COUNTS)
    zs.requires_grad_(True)
    zt.requires_grad_(True)
    value = loss(zs, y, teacher_score=zt)
    ref = hand_loss(zs.detach(), zt.detach(), y.tolist(), tau, power, lam,
                    COUNTS)
    assert value.item() == pytest.approx(ref, rel=1e-12)
    value.backward()
    assert zt.grad is None  # the soft targets are detached
    assert zs.grad is not None


def test_loss_errors():
    loss = DiVELoss()
    loss.base_loss.set_class_counts(COUNTS)
    with pytest.raises(ValueError, match="needs the teacher's logits"):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'shape \(2, 3\) do not match'):
        loss(torch.zeros(2, 4), torch.tensor([0, 1]),
             teacher_score=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r'distill_weight \(lambda\) must'):
        DiVELoss(distill_weight=1.5)
    with pytest.raises(ValueError, match='temperature must be a positive'):
        DiVELoss(temperature=0)


def tiny_dive(checkpoint, num_classes=4, teacher_classes=None):
    def net(n):
        return dict(
            backbone=dict(type='ResNet', depth=18, stem_channels=8,
                          base_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=n, in_channels=64,
                      loss=dict(type='DiVELoss')))

    teacher = None if teacher_classes is None else dict(
        type='ImageClassifier', **net(teacher_classes))
    model = MODELS.build(
        dict(type='DiVEClassifier', teacher_checkpoint=checkpoint,
             teacher=teacher, **net(num_classes)))
    model.head.loss_module.base_loss.set_class_counts(COUNTS[:num_classes])
    return model


def save_teacher(path, num_classes=4, seed=1, wrap=False):
    torch.manual_seed(seed)
    teacher = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=64)))
    state = teacher.state_dict()
    if wrap:  # a Runner checkpoint of a DDP-wrapped model
        state = {'module.' + k: v for k, v in state.items()}
    torch.save(dict(meta=dict(epoch=90), state_dict=state), path)
    return teacher


def test_teacher_is_loaded_frozen_and_not_saved(tmp_path):
    path = str(tmp_path / 'teacher.pth')
    teacher = save_teacher(path, wrap=True)
    model = tiny_dive(path)
    model.init_weights()
    for k, v in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[k], v), k
    assert not any(p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert model.training and not model.teacher.training

    # The loss is DiVE's on the student's and the teacher's logits.
    x = torch.randn(4, 3, 16, 16)
    y = [0, 2, 3, 1]
    samples = [DataSample().set_gt_label(v) for v in y]
    losses = model(x, samples, mode='loss')
    with torch.no_grad():
        zt = teacher.eval()(x, mode='tensor').double()
        zs = model.head(model.extract_feat(x)).double()
    ref = hand_loss(zs, zt, y, 3.0, 0.5, 0.5, COUNTS)
    assert losses['loss'].item() == pytest.approx(ref, rel=1e-5)
    losses['loss'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.head.fc.weight.grad is not None

    # Student checkpoints leave the teacher out; loading one keeps it.
    state = model.state_dict()
    assert state and not any(k.startswith('teacher.') for k in state)
    fresh = tiny_dive(path)
    fresh.load_teacher()
    fresh.load_state_dict(state, strict=True)
    load_state_dict(fresh, state, strict=True)  # the Runner's loader
    assert torch.equal(fresh.head.fc.weight, model.head.fc.weight)
    assert torch.equal(fresh.teacher.head.fc.weight, teacher.head.fc.weight)


def test_missing_or_mismatched_teacher_is_a_clear_error(tmp_path):
    missing = str(tmp_path / 'no_teacher.pth')
    with pytest.raises(FileNotFoundError, match='no_teacher.pth'):
        tiny_dive(missing).init_weights()
    with pytest.raises(RuntimeError, match='has not been loaded'):
        tiny_dive(missing)(torch.randn(2, 3, 16, 16),
                           [DataSample().set_gt_label(0)] * 2, mode='loss')
    seven = str(tmp_path / 'seven_classes.pth')
    save_teacher(seven, num_classes=7)
    with pytest.raises(ValueError, match=r"seven_classes.pth' does not match "
                       r'the 4 classes'):
        tiny_dive(seven).init_weights()
    with pytest.raises(ValueError, match='teacher has 7 classes but the '
                       'student has 4'):
        tiny_dive(seven, teacher_classes=7)
    with pytest.raises(ValueError, match='needs teacher_checkpoint'):
        tiny_dive(None)
