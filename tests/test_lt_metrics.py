"""Long-tailed metrics against hand computations."""
import csv
import logging
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmdsb  # noqa: F401
from mmdsb.evaluation import (ShotAccuracy, kmeans_nmi, model_bias,
                              recall_at_k)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def samples(gt, pred, num_classes):
    out = []
    for g, p in zip(gt, pred):
        score = torch.full((num_classes, ), 0.1)
        score[p] = 0.9
        out.append(DataSample().set_gt_label(g).set_pred_score(
            score).to_dict())
    return out


def run(metric, data):
    metric.process(None, data)
    return metric.evaluate(len(data))


# Class 0: 3 of 4 right, class 1: 1 of 2, class 2: 2 of 2, class 3 absent.
GT = [0, 0, 0, 0, 1, 1, 2, 2]
PRED = [0, 0, 0, 1, 1, 2, 2, 2]


def test_model_bias_hand_values():
    assert model_bias([0.75, 0.5, 1.0, None]) == pytest.approx(
        1.0 / 0.501 - 1)
    assert model_bias([0.0, 1.0]) == pytest.approx(999.0)
    assert model_bias([0.4, 0.4]) == 0.0  # 0.4 / 0.401 - 1 < 0 -> 0
    assert model_bias([None, None]) is None


def test_per_class_accuracy_csv_and_absent_class(tmp_path):
    out = str(tmp_path / 'pc' / 'acc.csv')
    metric = METRICS.build(dict(type='PerClassAccuracy', num_classes=4,
                                out_file=out))
    res = run(metric, samples(GT, PRED, 4))
    assert res['per_class/bias'] == pytest.approx(1 / 0.501 - 1)
    assert res['per_class/min'] == 50.0 and res['per_class/max'] == 100.0
    assert metric.per_class_accuracy == [75.0, 50.0, 100.0, None]
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows == [['class', 'num_eval', 'correct', 'accuracy'],
                    ['0', '4', '3', '75.0000'], ['1', '2', '1', '50.0000'],
                    ['2', '2', '2', '100.0000'], ['3', '0', '0', '']]


def test_per_class_accuracy_default_file_in_work_dir(tmp_path):
    log_file = str(tmp_path / 'run' / 'run.log')
    os.makedirs(osp.dirname(log_file))
    MMLogger.get_instance('per_class_test', log_file=log_file)
    metric = METRICS.build(dict(type='PerClassAccuracy', num_classes=3))
    run(metric, samples([0, 1, 2], [0, 1, 1], 3))
    assert osp.isfile(tmp_path / 'run' / 'per_class_accuracy.csv')


def test_per_class_correlations_from_feature_dump(tmp_path):
    # Bank counts N = 5, 3, 2 (class 3 empty: left out), accuracies 75, 50,
    # 100: r(N, acc) = -25 / sqrt(14/3 * 1250) = -0.32733.
    rng = np.random.default_rng(0)
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
    feats = torch.tensor(rng.normal(size=(10, 3)), dtype=torch.float32)
    path = str(tmp_path / 'bank.pth')
    torch.save(dict(feats=feats, labels=labels), path)
    metric = METRICS.build(dict(type='PerClassAccuracy', num_classes=4,
                                out_file='', feature_file=path))
    res = run(metric, samples(GT, PRED, 4))
    assert res['per_class/pearson_N'] == pytest.approx(
        -25 / np.sqrt(14 / 3 * 1250))
    # Every other column by hand, in numpy: E_n with beta = 0.999, volumes
    # (eps = 1) from the eigenvalues of the biased covariance, S' = the
    # max-normalised volume, W = log2(alpha + W') with W' the
    # max-normalised summed distance between class centres, S = S' W.
    x, y = feats.double().numpy(), labels.numpy()
    acc = np.array([75.0, 50.0, 100.0])
    n = np.array([5.0, 3.0, 2.0])
    vol, centres = [], []
    for c in range(3):
        xc = x[y == c] - x[y == c].mean(0)
        eig = np.linalg.eigvalsh(np.eye(3) + 3 * xc.T @ xc / len(xc))
        vol.append(0.5 * np.log2(eig).sum())
        centres.append(x[y == c].mean(0))
    s_prime = np.array(vol) / max(vol)
    w = np.array([sum(np.linalg.norm(a - b) for b in centres)
                  for a in centres])
    w_prime = w / w.max()

    def r(series):
        return np.corrcoef(series, acc)[0, 1]

    expected = {
        'E_n': r((1 - 0.999**n) / (1 - 0.999)),
        'W': r(np.log2(2 + w_prime)),
        "S'": r(s_prime),
    }
    for a in (1, 1.5, 2, 2.5, 3):
        expected[f'S(alpha={a:g})'] = r(s_prime * np.log2(a + w_prime))
    for key, value in expected.items():
        assert res[f'per_class/pearson_{key}'] == pytest.approx(
            value, abs=1e-9), key
    # The columns differ, so a mix-up would show.
    assert len({round(v, 6) for v in expected.values()}) == len(expected)
    torch.save(dict(feats=feats), path)
    metric = METRICS.build(dict(type='PerClassAccuracy', num_classes=4,
                                out_file='', feature_file=path))
    with pytest.raises(ValueError, match='must hold "feats"'):
        run(metric, samples(GT, PRED, 4))


def test_glt_accuracy_and_precision():
    # Class 0 predicted 4 times (2 right), class 1 twice (1 right), class 2
    # never; class 3 is predicted once but has no evaluation sample.
    gt = [0, 0, 0, 1, 1, 2, 2]
    pred = [0, 0, 1, 1, 0, 0, 3]
    metric = METRICS.build(dict(type='GLTAccuracy', num_classes=4,
                                prefix='clt'))
    res = run(metric, samples(gt, pred, 4))
    assert res['clt/accuracy'] == pytest.approx(100 * 3 / 7)
    assert res['clt/precision'] == pytest.approx(100 * (0.5 + 0.5 + 0) / 3)


def test_glt_accuracy_prefix_follows_protocol():
    metric = METRICS.build(dict(type='GLTAccuracy', num_classes=4))
    assert set(run(metric, samples([0, 1], [0, 0], 4))) == {
        'glt/accuracy', 'glt/precision'}
    metric.dataset_meta = dict(glt_protocol='alt')
    assert run(metric, samples([0, 1], [0, 0], 4))['alt/accuracy'] == 50.0
    fixed = METRICS.build(dict(type='GLTAccuracy', prefix='mine'))
    fixed.dataset_meta = dict(glt_protocol='alt')
    assert fixed.prefix == 'mine'


def test_recall_at_k_hand_example():
    # Points on the unit circle at 0, 10, 30, 90 and 80 degrees.
    deg = np.radians([0, 10, 30, 90, 80])
    x = np.stack([np.cos(deg), np.sin(deg)], 1)
    y = np.array([0, 1, 0, 1, 1])
    # Nearest others: p0 -> p1(1), p2(0); p1 -> p0(0), p2(0), p4(1);
    # p2 -> p1(1), p0(0); p3 -> p4(1); p4 -> p3(1).
    assert recall_at_k(x, y, (1, 2, 4)) == {1: 40.0, 2: 80.0, 4: 100.0}
    with pytest.raises(ValueError, match='Recall@8 needs more than 8'):
        recall_at_k(x, y)


def test_kmeans_nmi_extremes():
    x = np.array([[1, 0], [1, 0.01], [0, 1], [0.01, 1]])
    assert kmeans_nmi(x, np.array([0, 0, 1, 1])) == pytest.approx(100.0)
    assert kmeans_nmi(x, np.array([0, 1, 0, 1])) == pytest.approx(
        0.0, abs=1e-9)


def test_retrieval_metric():
    deg = np.radians([0, 10, 30, 90, 80, 85, 5, 20, 95])
    emb = np.stack([np.cos(deg), np.sin(deg)], 1)
    y = [0, 0, 0, 1, 1, 1, 0, 0, 1]
    data = [DataSample().set_gt_label(lab).set_pred_score(
        torch.tensor(e, dtype=torch.float32)).to_dict()
        for lab, e in zip(y, emb)]
    res = run(METRICS.build(dict(type='RetrievalMetric')), data)
    assert res == {'retrieval/R@1': 100.0, 'retrieval/R@2': 100.0,
                   'retrieval/R@4': 100.0, 'retrieval/R@8': 100.0,
                   'retrieval/NMI': pytest.approx(100.0)}


def test_shot_accuracy_table_marks_absent_group():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        # many {0}, medium {1}, few {2}; only classes 0 and 2 evaluated.
        metric = ShotAccuracy(train_class_counts=[150, 50, 5])
        res = run(metric, samples([0, 0, 2, 2], [0, 1, 2, 0], 3))
    finally:
        logger.removeHandler(handler)
    assert res == {'shot/overall': 50.0, 'shot/overall_img': 50.0,
                   'shot/many': 50.0, 'shot/many_img': 50.0,
                   'shot/few': 50.0, 'shot/few_img': 50.0}
    table = [r.getMessage() for r in records
             if 'ShotAccuracy by training' in r.getMessage()]
    assert len(table) == 1
    lines = table[0].splitlines()
    assert lines[2].split('|')[1:-1] == [
        ' top-1 %       ', ' overall ', ' many (>100) ', ' mid (20-100) ',
        ' few (<20) '
    ]
    assert [c.strip() for c in lines[4].split('|')[1:-1]] == [
        'classes', '2', '1', '0', '1']
    assert [c.strip() for c in lines[5].split('|')[1:-1]] == [
        'class-avg acc', '50.00', '50.00', 'absent', '50.00']


@pytest.mark.slow  # tools/test.py in a fresh interpreter
def test_tools_test_prints_shot_table(tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/demo/ce_lenet5_digits-lt.py'))
    cfg.work_dir = str(tmp_path / 'train')
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    Runner.from_cfg(cfg).train()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep +
               os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py',
         'configs/demo/ce_lenet5_digits-lt.py',
         str(tmp_path / 'train' / 'epoch_1.pth'), '--work-dir',
         str(tmp_path / 'test')], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'ShotAccuracy by training images per class:' in proc.stdout
    assert '| class-avg acc |' in proc.stdout
    assert 'many (>100)' in proc.stdout
