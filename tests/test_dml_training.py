"""The metric-learning heads: their CB and DSB losses against the plain
per-sample losses computed by hand, the embedding in the bank and in the
predictions, and a CB and a DSB form of each loss trained through the
Runner on a CIFAR-100 fixture."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from fixtures_dml import write_cifar100
from mmdsb.engine import SemanticScaleWeighter

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
C, IN, DIM, K = 6, 32, 8, 3
HEADS = {'nsm': 'CosineClsHead', 'st': 'SoftTripleHead'}


def build(kind, dsb=False, **kwargs):
    cfg = dict(type=('DSB' if dsb else '') + HEADS[kind], num_classes=C,
               in_channels=IN, embed_dim=DIM, **kwargs)
    if kind == 'st':
        cfg['num_centers'] = K
    return MODELS.build(cfg).train()


def batch(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % C
    feats = torch.randn(n, IN, generator=g) + labels[:, None] * 0.2
    return (feats, ), [DataSample().set_gt_label(int(y)) for y in labels]


def embedding(head, feats):
    w, b = head.embed.weight.double(), head.embed.bias.double()
    return feats[0].double() @ w.T + b


def per_sample_loss(head, kind, feats, labels):
    """NormSoftmax (temperature 0.05) or SoftTriple (lambda 20, gamma 0.1,
    delta 0.01) of every sample, in float64, from the formulas."""
    f = embedding(head, feats)
    f = f / f.norm(dim=1, keepdim=True)
    n = len(labels)
    if kind == 'nsm':
        w = head.weight.double()
        logits = (f @ (w / w.norm(dim=1, keepdim=True)).T) / 0.05
    else:
        w = head.centers.double()
        w = w / w.norm(dim=1, keepdim=True)
        logits = torch.empty(n, C, dtype=torch.float64)
        for i in range(n):
            for c in range(C):
                sims = torch.stack([f[i] @ w[c * K + k] for k in range(K)])
                assign = torch.softmax(sims / 0.1, dim=0)
                logits[i, c] = 20 * ((assign * sims).sum() -
                                     (0.01 if c == labels[i] else 0.0))
    return -F.log_softmax(logits, dim=1)[torch.arange(n), labels]


def centre_regulariser(head):
    w = head.centers.double()
    w = w / w.norm(dim=1, keepdim=True)
    total = 0.0
    for c in range(C):
        for k in range(K):
            for m in range(k + 1, K):
                total += torch.sqrt(2 + 1e-5 - 2 * w[c * K + k] @
                                    w[c * K + m])
    return 0.2 * total / (C * K * (K - 1))


@pytest.mark.parametrize('kind', ['nsm', 'st'])
def test_dsb_loss_is_the_class_weighted_mean_of_the_plain_loss(kind):
    torch.manual_seed(0)
    plain = build(kind)
    dsb = build(kind, dsb=True)
    dsb.load_state_dict(plain.state_dict())
    weighter = SemanticScaleWeighter(alpha=2.0, bank_dim=DIM)
    weighter.init_bank(capacity=120, num_classes=C, device='cpu')
    dsb.dsb_weighter = weighter
    for seed in range(5):  # fill the bank (stages 1-2: plain loss)
        feats, samples = batch(seed=100 + seed)
        assert torch.equal(dsb.loss(feats, samples)['loss'],
                           plain.loss(feats, samples)['loss'])
    weighter.stage = 3
    feats, samples = batch(seed=7)
    losses = dsb.loss(feats, samples)
    labels = torch.cat([s.gt_label for s in samples])
    # The bank holds this batch's embeddings (the linear layer's output).
    bank_feats, bank_labels = weighter.bank.ordered()
    assert torch.allclose(bank_feats[-24:].double(),
                          embedding(plain, feats), atol=1e-5)
    assert torch.equal(bank_labels[-24:], labels)
    a = weighter.class_weights()  # the weights of the updated bank
    assert a.std() > 0.01
    L = per_sample_loss(plain, kind, feats, labels)
    assert plain.loss(feats, samples)['loss'].item() == pytest.approx(
        L.mean().item(), rel=1e-5)
    assert losses['loss'].item() == pytest.approx(
        (a[labels].double() * L).mean().item(), rel=1e-5)
    if kind == 'st':  # the centre regulariser is not re-weighted
        assert losses['loss_reg'].item() == pytest.approx(
            centre_regulariser(plain).item(), rel=1e-5)


@pytest.mark.parametrize('kind', ['nsm', 'st'])
def test_cb_loss_uses_effective_number_weights(kind):
    torch.manual_seed(1)
    plain = build(kind)
    cb = build(kind, cb_beta=0.99)
    cb.load_state_dict(plain.state_dict())
    counts = [50, 20, 10, 5, 3, 1]
    cb.class_balance.set_class_counts(counts)
    # Cui et al.: (1 - beta) / (1 - beta^n), normalised to sum to C.
    raw = [(1 - 0.99) / (1 - 0.99**n) for n in counts]
    w = torch.tensor([C * r / sum(raw) for r in raw], dtype=torch.float64)
    feats, samples = batch(seed=3)
    labels = torch.cat([s.gt_label for s in samples])
    L = per_sample_loss(plain, kind, feats, labels)
    assert cb.loss(feats, samples)['loss'].item() == pytest.approx(
        (w[labels] * L).mean().item(), rel=1e-5)
    unset = build(kind, cb_beta=0.99)
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        unset.loss(feats, samples)
    with pytest.raises(ValueError, match='cb_beta'):
        build(kind, cb_beta=1.0)


@pytest.mark.parametrize('kind', ['nsm', 'st'])
def test_predictions_carry_the_embedding(kind):
    head = build(kind).eval()
    feats, samples = batch(n=5)
    preds = head.predict(feats, samples)
    expected = embedding(head, feats)
    for p, e in zip(preds, expected):
        assert p.embedding.shape == (DIM, )
        assert torch.allclose(p.embedding.double(), e, atol=1e-5)
        assert p.pred_score.shape == (C, )


@pytest.fixture(scope='module')
def cifar_root(tmp_path_factory):
    # Training classes 0-59 with 2 or 3 images (unequal counts for CB),
    # test classes 60-99 with 2.
    counts = [2 + c % 2 for c in range(60)] + [2] * 40
    return write_cifar100(str(tmp_path_factory.mktemp('cifar')), counts)


@pytest.mark.parametrize('config', [
    'cb-nsm_bn-inception-64_cifar100-lt-r10.py',
    'dsb-st_bn-inception-64_cifar100.py',
    # test_dml_configs.py also trains CB-ST and DSB-NSM (one iteration).
    pytest.param('cb-st_bn-inception-64_cifar100-lt-r10.py',
                 marks=pytest.mark.slow),
    pytest.param('dsb-nsm_bn-inception-64_cifar100.py',
                 marks=pytest.mark.slow),
])
def test_cb_and_dsb_forms_train_through_the_runner(config, cifar_root,
                                                   tmp_path):
    """Two epochs (DSB re-weights in the second) of 32-px CIFAR images."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'metric-learning',
                                   config))
    cfg.work_dir = str(tmp_path)
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = cifar_root
        cfg[loader].update(batch_size=48, num_workers=0,
                           persistent_workers=False)
        for t in cfg[loader].dataset.pipeline:
            if t.type in ('RandomResizedCrop', 'ResizeEdge'):
                t.scale = 32
            elif t.type == 'CenterCrop':
                t.crop_size = 32
    # The fixture's own counts instead of a long tail.
    cfg.train_dataloader.dataset.imbalance_factor = None
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10)
    for hook in cfg.get('custom_hooks', []):
        hook.warmup_epochs = 1
    runner = Runner.from_cfg(cfg)
    head = runner.model.head
    before = head.embed.weight.detach().clone()
    runner.train()
    assert not torch.equal(head.embed.weight, before)
    metrics = runner.test()
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics['retrieval/R@8'] > 0
    if config.startswith('cb-'):
        assert head.class_balance.class_counts.tolist() == \
            [2 + c % 2 for c in range(60)]
    else:
        weighter = head.dsb_weighter
        assert weighter.stage == 3
        assert weighter.alpha == 1.0
        feats, labels = weighter.bank.ordered()
        assert feats.shape == (150, 64)  # every training image's embedding
        assert torch.bincount(labels).tolist() == \
            [2 + c % 2 for c in range(60)]
        assert weighter.class_weights().mean().item() == pytest.approx(1.0)
