import csv
import logging

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from mmdsb.datasets import DigitsLT
from mmdsb.evaluation import ShotAccuracy

# many (> 100): 0, 1; medium (20..100): 2, 3; few (< 20): 4, 5.
COUNTS = [150, 120, 50, 30, 10, 5]
# (class, eval samples, correct); class 5 has no eval samples.
EVAL = [(0, 8, 8), (1, 2, 0), (2, 2, 2), (3, 5, 1), (4, 2, 1)]


def make_samples(spec, num_classes=6, use_score=True):
    samples = []
    for label, n, n_correct in spec:
        for k in range(n):
            pred = label if k < n_correct else (label + 1) % num_classes
            sample = DataSample().set_gt_label(label)
            if use_score:
                score = torch.full((num_classes, ), 0.1)
                score[pred] = 0.9
                sample.set_pred_score(score)
            else:
                sample.set_pred_label(pred)
            samples.append(sample.to_dict())
    return samples


def run(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('use_score', [True, False])
def test_hand_example(use_score):
    metric = METRICS.build(
        dict(type='ShotAccuracy', train_class_counts=COUNTS))
    res = run(metric, make_samples(EVAL, use_score=use_score))
    # Per class: 100, 0, 100, 20, 50, absent.
    assert metric.per_class_accuracy == [100.0, 0.0, 100.0, 20.0, 50.0, None]
    expected = {
        'shot/overall': 270 / 5,  # 54.0 over the 5 present classes
        'shot/overall_img': 100 * 12 / 19,  # 63.16: class 0 dominates
        'shot/many': 50.0,
        'shot/many_img': 80.0,  # 8 / 10
        'shot/medium': 60.0,
        'shot/medium_img': 100 * 3 / 7,
        'shot/few': 50.0,  # class 5 absent, only class 4 counts
        'shot/few_img': 50.0,
    }
    assert res.keys() == expected.keys()
    for key, value in expected.items():
        assert res[key] == pytest.approx(value)


def test_empty_group_is_left_out_and_logged_once():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        metric = ShotAccuracy(train_class_counts=COUNTS)
        spec = [(0, 4, 3), (4, 2, 2)]  # no medium class evaluated
        for _ in range(2):
            res = run(metric, make_samples(spec))
            assert 'shot/medium' not in res
            assert 'shot/medium_img' not in res
            assert res['shot/many'] == 75.0 and res['shot/few'] == 100.0
            assert res['shot/overall'] == 87.5
            assert res['shot/overall_img'] == pytest.approx(500 / 6)
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records if 'medium' in r.getMessage()]
    assert len(messages) == 1


def test_thresholds_change_groups():
    # few_thr=40, many_thr=140: many {0}, medium {1, 2}, few {3, 4, 5}.
    metric = ShotAccuracy(train_class_counts=COUNTS, many_thr=140, few_thr=40)
    res = run(metric, make_samples(EVAL))
    assert res['shot/many'] == 100.0
    assert res['shot/medium'] == 50.0
    assert res['shot/few'] == 35.0
    assert res['shot/few_img'] == pytest.approx(100 * 2 / 7)


def test_per_class_file(tmp_path):
    path = tmp_path / 'out' / 'per_class.csv'
    metric = ShotAccuracy(train_class_counts=COUNTS, per_class_file=str(path))
    run(metric, make_samples(EVAL))
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['class', 'train_count', 'shot', 'num_eval', 'accuracy']
    assert rows[4] == ['3', '30', 'medium', '5', '20.0000']
    assert rows[6] == ['5', '5', 'few', '0', '']


def test_errors():
    with pytest.raises(ValueError, match='few_thr <= many_thr'):
        ShotAccuracy(many_thr=10, few_thr=20)
    metric = ShotAccuracy(train_class_counts=COUNTS[:5])
    with pytest.raises(ValueError, match='width'):
        run(metric, make_samples(EVAL))
    metric = ShotAccuracy(train_class_counts=COUNTS[:5])
    with pytest.raises(ValueError, match='gt_label values'):
        run(metric, make_samples([(5, 1, 1)], use_score=False))
    with pytest.raises(ValueError, match='train_class_counts'):
        run(ShotAccuracy(), make_samples(EVAL))
    with pytest.raises(ValueError, match='non-negative'):
        ShotAccuracy(train_class_counts=[3, -1])


def test_end_to_end_with_digits_lt():
    dataset = DigitsLT(split='test', pipeline=[dict(type='PackInputs')])
    # As in a runner with default_scope='mmpretrain'.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        evaluator = Evaluator(dict(type='ShotAccuracy'))
    evaluator.dataset_meta = dataset.metainfo
    seen = [0] * 10
    batch = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        label = int(sample.gt_label)
        # Class c gets its first 5 * (c + 1) images right: 10 * (c + 1) %.
        pred = label if seen[label] < 5 * (label + 1) else (label + 3) % 10
        seen[label] += 1
        score = torch.zeros(10)
        score[pred] = 1.0
        batch.append(sample.set_pred_score(score))
        if len(batch) == 32 or i == len(dataset) - 1:
            evaluator.process(batch)
            batch = []
    res = evaluator.evaluate(len(dataset))
    # Train counts (124, 88, 63, 45, 32, 23, 16, 12, 8, 6):
    # many {0}, medium {1..5}, few {6..9}; the test split is balanced so
    # class- and image-averaged accuracies agree.
    expected = dict(overall=55.0, many=10.0, medium=40.0, few=85.0)
    for key, value in expected.items():
        assert res[f'shot/{key}'] == pytest.approx(value)
        assert res[f'shot/{key}_img'] == pytest.approx(value)


def test_training_counts_from_a_split_list(tmp_path):
    from mmdsb.evaluation.shot_accuracy import ShotAccuracy
    ann = tmp_path / 'train.txt'
    ann.write_text('a/1.jpg 0\na/2.jpg 0\nb/1.jpg 2\n\nc c/1.jpg 2\n'
                   'c/2.jpg 2\n')
    assert ShotAccuracy(train_ann_file=str(ann)).train_class_counts == [
        2, 0, 3
    ]
    ann.write_text('a/1.jpg 0\na/2.jpg\n')
    with pytest.raises(ValueError, match='line 2'):
        ShotAccuracy(train_ann_file=str(ann))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        ShotAccuracy(train_ann_file=str(tmp_path / 'missing.txt'))
