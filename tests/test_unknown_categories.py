"""mmdet drops annotations whose category_id is not among the dataset's
categories; with mmdsb.det imported the dataset says how many when it loads.

Tiny COCO files (three 100x80 images, no pixels needed: the datasets are
built without a pipeline) go through mmdet's registry as a config would.
"""
import json
import logging

import pytest
from mmdet.registry import DATASETS
from mmengine.logging import MMLogger

import mmdsb.det  # noqa: F401  (adds the warning)
from mmdsb.det.datasets import (DIGIT_CLASSES, count_unknown_categories,
                                write_digits_lvis)

CATEGORIES = [dict(id=1, name='cat'), dict(id=2, name='dog')]


def box(ann_id, image_id, category_id):
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=category_id,
        bbox=[10, 10, 20, 20],
        area=400,
        iscrowd=0)


def write_coco(path, category_ids):
    """One annotation per entry of ``category_ids``, over three images."""
    images = [
        dict(id=i, file_name=f'{i}.jpg', width=100, height=80,
             coco_url=f'http://images.cocodataset.org/val2017/{i}.jpg')
        for i in (1, 2, 3)
    ]
    anns = [box(k + 1, k % 3 + 1, c) for k, c in enumerate(category_ids)]
    with open(path, 'w') as f:
        json.dump(
            dict(images=images, annotations=anns, categories=CATEGORIES), f)
    return str(path)


def build(ann_file, dataset_type='CocoDataset', classes=('cat', 'dog'),
          **kwargs):
    return DATASETS.build(
        dict(
            type=dataset_type,
            ann_file=ann_file,
            data_prefix=dict(img=''),
            metainfo=dict(classes=classes),
            pipeline=[],
            test_mode=True,
            **kwargs))


def num_instances(dataset):
    return sum(
        len(dataset.get_data_info(i)['instances'])
        for i in range(len(dataset)))


@pytest.fixture
def warnings():
    """Warnings logged through mmengine's current logger during a test."""
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger.addHandler(handler)
    yield lambda: [r.getMessage() for r in records if 'dropped' in
                   r.getMessage()]
    logger.removeHandler(handler)


@pytest.mark.parametrize('dataset_type', ['CocoDataset', 'LVISV1Dataset'])
def test_unknown_category_is_counted_once(tmp_path, warnings, dataset_type):
    ann_file = write_coco(tmp_path / 'ann.json', [1, 2, 7, 2])
    dataset = build(ann_file, dataset_type)
    # mmdet still drops the annotation: only the warning is new.
    assert num_instances(dataset) == 3
    assert count_unknown_categories(dataset) == {7: 1}
    assert warnings() == [
        f'{dataset_type}: 1 of 4 annotations in {ann_file} are dropped '
        "because their category_id is not among the dataset's 2 "
        'categories: category_id 7 (1 annotation). Check the categories '
        "of the file and the dataset's metainfo classes."
    ]


def test_clean_file_logs_nothing(tmp_path, warnings):
    dataset = build(write_coco(tmp_path / 'ann.json', [1, 2, 2, 1]))
    assert num_instances(dataset) == 4
    assert count_unknown_categories(dataset) == {}
    assert warnings() == []


def test_categories_left_out_of_classes_are_counted(tmp_path, warnings):
    # CocoDataset keeps only the categories named in metainfo classes.
    dataset = build(
        write_coco(tmp_path / 'ann.json', [1, 2, 9, 2]), classes=('cat', ))
    assert num_instances(dataset) == 1
    assert count_unknown_categories(dataset) == {2: 2, 9: 1}
    [message] = warnings()
    assert '3 of 4 annotations' in message
    assert 'category_id 2 (2 annotations), 9 (1 annotation).' in message


def test_many_ids_are_summarised(tmp_path, warnings):
    ids = [1, 2] + list(range(10, 17)) + [10]
    build(write_coco(tmp_path / 'ann.json', ids))
    [message] = warnings()
    assert '8 of 10 annotations' in message
    assert 'category_id 10 (2 annotations), 11 (1 annotation), 12 (1 ' \
        'annotation), 13 (1 annotation), 14 (1 annotation) and 2 more.' \
        in message


def test_lazy_dataset_warns_when_it_loads(tmp_path, warnings):
    dataset = build(
        write_coco(tmp_path / 'ann.json', [1, 7, 8]), lazy_init=True)
    assert warnings() == []
    dataset.full_init()
    dataset.full_init()  # already loaded: nothing more
    assert len(warnings()) == 1
    assert '2 of 3 annotations' in warnings()[0]


def test_digits_lvis_set_with_a_stray_annotation(tmp_path, warnings):
    info = write_digits_lvis(
        str(tmp_path), num_train=6, num_val=3, frequency_thresholds=(1, 2))
    build(info['train_ann_file'], 'LVISV1Dataset', DIGIT_CLASSES)
    assert warnings() == []  # the demo set itself is clean

    with open(info['train_ann_file']) as f:
        content = json.load(f)
    total = len(content['annotations'])
    stray = dict(content['annotations'][0], id=10**6, category_id=11)
    content['annotations'].append(stray)
    with open(info['train_ann_file'], 'w') as f:
        json.dump(content, f)
    dataset = build(info['train_ann_file'], 'LVISV1Dataset', DIGIT_CLASSES)
    assert num_instances(dataset) == total
    [message] = warnings()
    assert message.startswith(
        f"LVISV1Dataset: 1 of {total + 1} annotations in "
        f"{info['train_ann_file']} are dropped because their category_id "
        "is not among the dataset's 10 categories: category_id 11 "
        '(1 annotation).')
