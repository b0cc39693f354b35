"""Every deep-metric-learning config (configs/metric-learning) says what its
name says, builds, trains and evaluates through the Runner on the
real-format fixtures, and reports the Recall@K and NMI of the embeddings
its model outputs; tools/test.py prints them as a table."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

import mmdsb  # noqa: F401
from fixtures_dml import (write_cifar100, write_cub, write_mini_imagenet,
                          write_stanford_cars)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'metric-learning',
                                    '*.py')))
NAME = re.compile(r'(?P<method>(?:cb-|dsb-)?(?:nsm|st))_bn-inception-'
                  r'(?P<dim>64|512)_(?P<dataset>cub|cars196|mini-imagenet|'
                  r'cifar100)(?:-lt-r(?P<rho>\d+))?\.py$')
# Dataset type and number of training classes (paper App. D.5).
TRAIN_SETS = {
    'cub': ('CUBRetrieval', 100),
    'cars196': ('StanfordCarsRetrieval', 98),
    'mini-imagenet': ('MiniImageNetRetrieval', 64),
    'cifar100': ('CIFAR100Retrieval', 60),
}
# One fast run per dataset (both losses, CB and DSB, 64 and 512 dims,
# balanced and long-tailed); the others are marked slow.
FAST = {
    'dsb-st_bn-inception-512_cub.py',
    'cb-st_bn-inception-64_cars196-lt-r50.py',
    'dsb-nsm_bn-inception-64_mini-imagenet.py',
    'cb-nsm_bn-inception-64_cifar100-lt-r200.py',
}
TEST_CLASSES = 12  # evaluate 2 images of each of 12 test classes
TEST_IMAGES = 2 * TEST_CLASSES


def test_the_tables_are_covered():
    names = {osp.basename(p) for p in CONFIGS}
    assert FAST <= names
    expected = set()
    for ds in ('cub', 'cars196'):  # Table 4
        for dim in (64, 512):
            expected |= {f'{m}_bn-inception-{dim}_{ds}.py'
                         for m in ('nsm', 'dsb-nsm', 'st', 'dsb-st')}
    for ds, rhos in (('cifar100-lt', (10, 50, 200)),  # Table 5
                     ('cars196-lt', (10, 20, 50))):  # Table 8
        expected |= {f'{m}_bn-inception-64_{ds}-r{r}.py' for r in rhos
                     for m in ('nsm', 'cb-nsm', 'dsb-nsm', 'st', 'cb-st',
                               'dsb-st')}
    for ds in ('mini-imagenet', 'cifar100'):  # Table 9
        expected |= {f'{m}_bn-inception-64_{ds}.py'
                     for m in ('nsm', 'dsb-nsm', 'st', 'dsb-st')}
    assert names == expected


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_matches_its_name_and_the_paper(path):
    m = NAME.match(osp.basename(path))
    assert m, path
    method, dim, ds = m['method'], int(m['dim']), m['dataset']
    cfg = Config.fromfile(path)
    head = cfg.model.head
    dataset = cfg.train_dataloader.dataset
    # Model: BN-Inception from the ImageNet checkpoint (BGR, Caffe mean),
    # GAP, one linear layer to the embedding.
    assert cfg.model.backbone.type == 'BNInception'
    assert cfg.model.backbone.init_cfg.checkpoint.endswith(
        'bn_inception-52deb4733.pth')
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert cfg.data_preprocessor.mean == [104, 117, 128]
    assert cfg.data_preprocessor.std == [1, 1, 1]
    # CIFAR arrays are RGB, image files load as BGR.
    assert cfg.data_preprocessor.to_rgb == (ds == 'cifar100')
    assert (head.in_channels, head.embed_dim) == (1024, dim)
    assert (dataset.type, head.num_classes) == TRAIN_SETS[ds]
    assert dataset.split == 'train'
    assert cfg.test_dataloader.dataset.split == 'test'
    # Losses with their published hyper-parameters.
    base = method.split('-')[-1]
    dsb = method.startswith('dsb-')
    if base == 'nsm':
        assert head.type == ('DSBCosineClsHead' if dsb else 'CosineClsHead')
        assert head.loss == dict(type='NormSoftmaxLoss', temperature=0.05)
    else:
        assert head.type == ('DSBSoftTripleHead' if dsb else
                             'SoftTripleHead')
        assert (head.num_centers, head.gamma, head.tau) == (10, 0.1, 0.2)
        assert head.loss == dict(type='SoftTripleLoss', scale=20.0,
                                 margin=0.01)
    # Class-balanced forms get the counts from the training set.
    assert head.get('cb_beta') == (0.9999 if method.startswith('cb-')
                                   else None)
    assert ('class_counts' in cfg.default_hooks) == method.startswith('cb-')
    # DSB: alpha 2 on long-tailed, 1 on sample-balanced data; the bank
    # holds the embedding; 5 warm-up epochs.
    hooks = [h for h in cfg.get('custom_hooks', []) if h.type == 'DSBHook']
    assert len(hooks) == int(dsb)
    if dsb:
        weighter = hooks[0].weighter
        assert weighter.alpha == (2.0 if m['rho'] else 1.0)
        assert weighter.get('bank_dim', 64) == dim
        assert hooks[0].warmup_epochs == 5
    # Long-tailed sets at the imbalance factor of the name.
    assert dataset.get('imbalance_factor') == (int(m['rho']) if m['rho']
                                               else None)
    # Adam, batch 32, 50 epochs, 224-px crops with flips; lr 1e-4 for the
    # network and 1e-2 for the centres / proxies (SoftTriple's code).
    optim = cfg.optim_wrapper
    assert optim.optimizer == dict(type='Adam', lr=1e-4, eps=0.01,
                                   weight_decay=1e-4)
    assert optim.paramwise_cfg.custom_keys[
        'head.centers' if base == 'st' else 'head.weight'].lr_mult == 100
    assert cfg.train_cfg.max_epochs == 50
    assert cfg.train_dataloader.batch_size == 32
    steps = {t.type: t for t in dataset.pipeline}
    assert steps['RandomResizedCrop'].scale == 224
    assert steps['RandomFlip'].prob == 0.5
    assert {t.type: t for t in cfg.test_dataloader.dataset.pipeline}[
        'CenterCrop'].crop_size == 224
    assert cfg.test_evaluator == dict(type='RetrievalMetric',
                                      embedding_key='embedding')


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    """Every dataset in its own layout: 2 images per class (12 for CIFAR,
    whose fixture puts 1 in 6 into the test pickle)."""
    root = tmp_path_factory.mktemp('dml_data')
    return {
        'CUBRetrieval': write_cub(str(root / 'cub'), 2),
        'StanfordCarsRetrieval': write_stanford_cars(str(root / 'cars'), 2),
        'MiniImageNetRetrieval': write_mini_imagenet(str(root / 'mini'), 2),
        'CIFAR100Retrieval': write_cifar100(str(root / 'cifar'), 12),
    }


def shrink(cfg, size=64):
    """64-px crops instead of 224: the run checks the pipeline, model and
    evaluator, not accuracy (BN-Inception ends in global pooling)."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for t in cfg[loader].dataset.pipeline:
            if t.type == 'RandomResizedCrop':
                t.scale = size
            elif t.type == 'ResizeEdge':
                t.scale = size * 8 // 7
            elif t.type == 'CenterCrop':
                t.crop_size = size


def pick_test_images(cfg):
    """Indices of the first 2 test images of each of the first
    TEST_CLASSES test classes (so that every query has a match)."""
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset,
                                  pipeline=[]))
    labels = np.asarray(dataset.get_gt_labels())
    return sorted(int(i) for c in range(TEST_CLASSES)
                  for i in np.flatnonzero(labels == c)[:2])


def point_at_fixture(cfg, data_roots, work_dir):
    cfg.work_dir = work_dir
    root = data_roots[cfg.train_dataloader.dataset.type]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].update(batch_size=4, num_workers=0,
                           persistent_workers=False)
    cfg.test_dataloader.dataset.indices = pick_test_images(cfg)
    if cfg.train_dataloader.dataset.get('imbalance_factor'):
        # 2 images per class leave a class without images beyond mu = 2.
        cfg.train_dataloader.dataset.imbalance_factor = 2
    shrink(cfg)
    cfg.model.backbone.init_cfg = None  # the checkpoint is not downloaded
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    # runner.test() evaluates; no validation pass after the iteration.
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.param_scheduler = []
    # No checkpoint: sixty BN-Inception ones would take 8 GB of disk.
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)


def embeddings_of(runner):
    """Embedding and label of every test image, from the model's
    predictions, and the embedding recomputed layer by layer."""
    model = runner.model.eval()
    embs, labels, by_hand = [], [], []
    with torch.no_grad():
        for data_batch in runner.test_dataloader:
            for sample in model.test_step(data_batch):
                embs.append(sample.embedding.double().numpy())
                labels.append(int(sample.gt_label))
            data = model.data_preprocessor(data_batch, False)
            pooled = model.backbone(data['inputs'])[-1].mean(dim=(2, 3))
            by_hand.append(model.head.embed(pooled).double().numpy())
    return np.stack(embs), np.array(labels), np.concatenate(by_hand)


def brute_force_metrics(x, y, ks=(1, 2, 4, 8)):
    """Recall@K by double loops over cosine similarities (float64) and the
    NMI of scikit-learn's K-means (K = number of labels, seed 0)."""
    n = len(x)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = {}
    for k in ks:
        hits = 0
        for i in range(n):
            sims = [(-float(unit[i] @ unit[j]), j) for j in range(n)
                    if j != i]
            nearest = [j for _, j in sorted(sims)[:k]]
            hits += any(y[j] == y[i] for j in nearest)
        out[f'retrieval/R@{k}'] = 100.0 * hits / n
    clusters = KMeans(n_clusters=len(set(y.tolist())), n_init=10,
                      random_state=0).fit_predict(unit)
    out['retrieval/NMI'] = 100.0 * normalized_mutual_info_score(y, clusters)
    return out


def params(paths):
    return [
        pytest.param(p, id=osp.basename(p),
                     marks=() if osp.basename(p) in FAST else
                     pytest.mark.slow) for p in paths
    ]


@pytest.mark.parametrize('path', params(CONFIGS))
def test_config_trains_and_evaluates(path, data_roots, tmp_path):
    cfg = Config.fromfile(path)
    point_at_fixture(cfg, data_roots, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert sorted(metrics) == sorted(
        f'retrieval/{k}' for k in ('R@1', 'R@2', 'R@4', 'R@8', 'NMI'))
    x, y, by_hand = embeddings_of(runner)
    # The evaluated embedding is the linear layer's output.
    assert x.shape == (TEST_IMAGES, cfg.model.head.embed_dim)
    np.testing.assert_allclose(x, by_hand, rtol=1e-4, atol=1e-5)
    # Test labels are the test classes' own, not the head's.
    assert sorted(y.tolist()) == sorted(list(range(TEST_CLASSES)) * 2)
    expected = brute_force_metrics(x, y)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    if cfg.model.head.type.startswith('DSB'):
        weighter = runner.model.head.dsb_weighter
        assert weighter.bank.ordered()[0].shape[1] == \
            cfg.model.head.embed_dim
    if cfg.model.head.get('cb_beta'):
        counts = runner.model.head.class_balance.class_counts
        assert counts.numel() == cfg.model.head.num_classes


@pytest.mark.slow
def test_tools_test_prints_the_retrieval_table(data_roots, tmp_path):
    path = osp.join(ROOT, 'configs', 'metric-learning',
                    'nsm_bn-inception-64_cars196.py')
    cfg = Config.fromfile(path)
    work_dir = str(tmp_path / 'work')
    point_at_fixture(cfg, data_roots, work_dir)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        by_epoch=False, interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    x, y, _ = embeddings_of(runner)
    expected = brute_force_metrics(x, y)
    # tools/test.py on the same config, with the fixture options.
    ckpt = osp.join(work_dir, 'iter_1.pth')
    root = data_roots['StanfordCarsRetrieval']
    options = [
        f'test_dataloader.dataset.data_root={root}',
        'test_dataloader.dataset.indices=' +
        str(cfg.test_dataloader.dataset.indices).replace(' ', ''),
        'test_dataloader.batch_size=4', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'test_dataloader.dataset.pipeline.1.scale=73',
        'test_dataloader.dataset.pipeline.2.crop_size=64',
        'model.backbone.init_cfg=None',
    ]
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', path, ckpt, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options', *options],
        cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines)
              if 'Epoch(test)' in line and 'retrieval/R@1' in line)
    title = next(i for i in range(at + 1, len(lines))
                 if 'Retrieval on the test set' in lines[i])
    assert f'({TEST_IMAGES} images of {TEST_CLASSES} classes)' in \
        lines[title]
    assert lines[title + 1].split() == ['R@1', 'R@2', 'R@4', 'R@8', 'NMI']
    row = [float(v) for v in lines[title + 2].split()]
    assert row == pytest.approx([
        expected[f'retrieval/{k}'] for k in ('R@1', 'R@2', 'R@4', 'R@8',
                                             'NMI')
    ], abs=0.006)
