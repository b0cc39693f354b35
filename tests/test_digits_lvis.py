import json
import os.path as osp
from collections import defaultdict

import cv2
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from mmdet.evaluation import LVISMetric
from mmdet.registry import DATASETS

from mmdsb.det.datasets import (DIGIT_CLASSES, long_tailed_split,
                                write_digits_lvis)


def hand_frequency(image_count, rare_max=10, common_max=100):
    # LVIS v1 rule, written out independently of the generator.
    if image_count <= rare_max:
        return 'r'
    if image_count <= common_max:
        return 'c'
    return 'f'


def load(root, split, **kwargs):
    return DATASETS.build(
        dict(
            type='LVISV1Dataset',
            data_root=root,
            ann_file=f'annotations/lvis_v1_{split}.json',
            data_prefix=dict(img=''),
            metainfo=dict(classes=DIGIT_CLASSES),
            pipeline=[],
            **kwargs))


def boxes_from_pixels(img):
    """Tight box of the non-zero pixels in each cell of the 2x2 grid."""
    half = img.shape[0] // 2
    boxes = []
    for top in (0, half):
        for left in (0, half):
            ys, xs = np.nonzero(img[top:top + half, left:left + half])
            if len(xs):
                boxes.append([left + xs.min(), top + ys.min(),
                              left + xs.max() + 1, top + ys.max() + 1])
    return sorted(boxes)


@pytest.fixture(scope='module')
def default_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('digits_lvis'))
    return write_digits_lvis(root)


def test_long_tailed_split_by_hand():
    # rho = 1: 19 instances = 10 fixed + 9 equal shares of 0.9 each; the
    # nine largest remainders (ties: lowest class first) get one more.
    assert long_tailed_split(19, 1) == (2, ) * 9 + (1, )
    assert long_tailed_split(10, 50) == (1, ) * 10
    # rho = 4, 3 classes, 13 instances: spare 10 over weights 1, 1/2, 1/4
    # -> shares 5.71, 2.86, 1.43 -> floors 5, 2, 1; the 2 left go to the
    # largest remainders (.86 of class 1, .71 of class 0), plus 1 each.
    assert long_tailed_split(13, 4, num_classes=3) == (7, 4, 2)
    with pytest.raises(ValueError, match='cannot cover 10 classes'):
        long_tailed_split(9, 10)


def test_lvis_dataset_loads_exact_boxes_and_labels(tmp_path):
    info = write_digits_lvis(str(tmp_path), num_train=40, num_val=20)
    assert info['classes'] == tuple('0123456789')
    digits = load_digits()
    for split, size in (('train', 40), ('val', 20)):
        dataset = load(info['data_root'], split)
        assert len(dataset) == size
        for i in range(size):
            data = dataset.get_data_info(i)
            img = cv2.imread(data['img_path'], cv2.IMREAD_UNCHANGED)
            assert img.shape == (64, 64)
            boxes = [inst['bbox'] for inst in data['instances']]
            assert sorted(boxes) == boxes_from_pixels(img)
            assert 1 <= len(boxes) <= 3
        # The same files read as COCO give the same images and instances.
        coco = DATASETS.build(
            dict(
                type='CocoDataset',
                data_root=info['data_root'],
                ann_file=f'annotations/lvis_v1_{split}.json',
                data_prefix=dict(img=f'{split}2017/'),
                metainfo=dict(classes=DIGIT_CLASSES),
                pipeline=[]))
        for i in range(size):
            assert coco.get_data_info(i) == dataset.get_data_info(i)
        # Each box crops the enlarged source digit of its annotated class.
        raw = json.load(open(info[f'{split}_ann_file']))
        for ann in raw['annotations'][:30]:
            label = ann['category_id'] - 1
            assert digits.target[ann['digit_index']] == label
            data = dataset.get_data_info(ann['image_id'] - 1)
            assert [ann['bbox'][0], ann['bbox'][1],
                    ann['bbox'][0] + ann['bbox'][2],
                    ann['bbox'][1] + ann['bbox'][3]] in [
                        inst['bbox'] for inst in data['instances']
                        if inst['bbox_label'] == label]
            x, y, w, h = ann['bbox']
            crop = cv2.imread(data['img_path'],
                              cv2.IMREAD_UNCHANGED)[y:y + h, x:x + w]
            source = np.rint(digits.images[ann['digit_index']] * 255 / 16)
            matches = []
            for scale in (2, 3, 4):
                big = cv2.resize(source, (8 * scale, 8 * scale),
                                 interpolation=cv2.INTER_NEAREST)
                ys, xs = np.nonzero(big)
                big = big[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
                matches.append(big.shape == crop.shape
                               and np.array_equal(big, crop))
            assert any(matches)
            assert ann['segmentation'] == [[x, y, x + w, y, x + w, y + h,
                                            x, y + h]]
            assert ann['area'] == w * h


def test_frequency_groups_and_long_tail(default_set):
    train = json.load(open(default_set['train_ann_file']))
    val = json.load(open(default_set['val_ann_file']))
    images_of, instances_of = defaultdict(set), defaultdict(int)
    for ann in train['annotations']:
        images_of[ann['category_id']].add(ann['image_id'])
        instances_of[ann['category_id']] += 1
    assert len(train['images']) == 300 and len(val['images']) == 100
    assert val['categories'] == train['categories']
    for cat in train['categories']:
        count = len(images_of[cat['id']])
        assert cat['image_count'] == count
        assert cat['instance_count'] == instances_of[cat['id']]
        assert cat['frequency'] == hand_frequency(count)
    instance_counts = [instances_of[c] for c in range(1, 11)]
    assert instance_counts == sorted(instance_counts, reverse=True)
    assert instance_counts[0] / instance_counts[-1] > 20
    # The demo's default set has frequent, common and rare classes.
    assert set(default_set['frequency']) == {'r', 'c', 'f'}
    assert default_set['frequency'] == tuple(
        c['frequency'] for c in train['categories'])
    # Validation is balanced and uses digits never seen in training.
    val_counts = np.bincount(
        [a['category_id'] - 1 for a in val['annotations']], minlength=10)
    assert val_counts.max() - val_counts.min() <= 1
    assert not ({a['digit_index'] for a in train['annotations']}
                & {a['digit_index'] for a in val['annotations']})
    # Labelling is exhaustive: negatives are exactly the absent classes.
    present = defaultdict(set)
    for ann in val['annotations']:
        present[ann['image_id']].add(ann['category_id'])
    for img in val['images']:
        assert img['neg_category_ids'] == sorted(
            set(range(1, 11)) - present[img['id']])
        assert img['not_exhaustive_category_ids'] == []
        assert img['coco_url'].endswith(f"val2017/{img['id']:012d}.png")


def test_small_fixture_thresholds(tmp_path):
    info = write_digits_lvis(
        str(tmp_path), num_train=40, num_val=10,
        frequency_thresholds=(3, 10))
    train = json.load(open(info['train_ann_file']))
    for cat in train['categories']:
        assert cat['frequency'] == hand_frequency(cat['image_count'], 3, 10)
    assert set(info['frequency']) == {'r', 'c', 'f'}


def test_lvis_metric_scores_ground_truth_as_perfect(default_set):
    """The LVIS evaluation runs unchanged and gives AP 1 to the truth."""
    dataset = load(default_set['data_root'], 'val', test_mode=True)
    metric = LVISMetric(
        ann_file=default_set['val_ann_file'], metric=['bbox', 'segm'])
    metric.dataset_meta = dataset.metainfo
    samples = []
    for i in range(len(dataset)):
        data = dataset.get_data_info(i)
        boxes = torch.tensor([inst['bbox'] for inst in data['instances']],
                             dtype=torch.float32)
        masks = torch.zeros(len(boxes), 64, 64, dtype=torch.bool)
        for mask, (x1, y1, x2, y2) in zip(masks, boxes.int().tolist()):
            mask[y1:y2, x1:x2] = True
        samples.append(
            dict(
                img_id=data['img_id'],
                ori_shape=(64, 64),
                pred_instances=dict(
                    bboxes=boxes,
                    scores=torch.ones(len(boxes)),
                    labels=torch.tensor(
                        [inst['bbox_label']
                         for inst in data['instances']]),
                    masks=masks)))
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    for kind in ('bbox', 'segm'):
        for key in ('AP', 'APr', 'APc', 'APf'):
            assert results[f'lvis/{kind}_{key}'] == pytest.approx(1.0)
    # Swapping two classes' predictions costs exactly their APs.
    for sample in samples:
        labels = sample['pred_instances']['labels']
        sample['pred_instances']['labels'] = torch.where(
            labels == 0, 9, torch.where(labels == 9, 0, labels))
    metric = LVISMetric(ann_file=default_set['val_ann_file'])
    metric.dataset_meta = dataset.metainfo
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    # Classes 0 (f) and 9 (r) score 0, the other eight 1.
    assert results['lvis/bbox_AP'] == pytest.approx(0.8)
    assert results['lvis/bbox_APr'] == pytest.approx(0.5)
    assert results['lvis/bbox_APc'] == pytest.approx(1.0)
    assert results['lvis/bbox_APf'] == pytest.approx(0.5)


def test_deterministic_and_bad_input(tmp_path):
    a = write_digits_lvis(str(tmp_path / 'a'), num_train=12, num_val=4)
    b = write_digits_lvis(str(tmp_path / 'b'), num_train=12, num_val=4)
    c = write_digits_lvis(str(tmp_path / 'c'), num_train=12, num_val=4,
                          seed=1)
    text = [open(x['train_ann_file']).read() for x in (a, b, c)]
    assert text[0] == text[1] != text[2]
    assert osp.isfile(osp.join(a['data_root'], 'val2017',
                               '000000000004.png'))
    with pytest.raises(ValueError, match='cannot cover 10 classes'):
        write_digits_lvis(str(tmp_path / 'd'), num_train=3, max_per_image=1)
    with pytest.raises(ValueError, match='max_per_image'):
        write_digits_lvis(str(tmp_path / 'd'), max_per_image=5)
    with pytest.raises(ValueError, match='scales'):
        write_digits_lvis(str(tmp_path / 'd'), scales=(5, ))
    with pytest.raises(ValueError, match='canvas'):
        write_digits_lvis(str(tmp_path / 'd'), canvas=16)
    with pytest.raises(ValueError, match='imbalance_ratio'):
        write_digits_lvis(str(tmp_path / 'd'), imbalance_ratio=0.5)
    with pytest.raises(ValueError, match='frequency_thresholds'):
        write_digits_lvis(str(tmp_path / 'd'), frequency_thresholds=(10, 5))
