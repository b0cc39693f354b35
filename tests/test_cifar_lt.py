"""Long-tailed CIFAR datasets on fixture pickles, and the thesis totals."""
import os.path as osp
import pickle

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import mmdsb  # noqa: F401
from fixtures import write_cifar_pickles
from mmdsb.datasets import long_tailed_counts


@pytest.mark.parametrize('rho,c10,c100', [(200, 11203, 9502),
                                          (100, 12406, 10847),
                                          (50, 13996, 12608)])
def test_count_formula_reproduces_thesis_totals(rho, c10, c100):
    assert sum(long_tailed_counts(5000, rho, 10)) == c10
    assert sum(long_tailed_counts(500, rho, 100)) == c100


def test_cifar10_lt_r100_counts():
    assert long_tailed_counts(5000, 100, 10) == (5000, 2997, 1796, 1077,
                                                 645, 387, 232, 139, 83, 50)


@pytest.fixture(scope='module')
def cifar10(tmp_path_factory):
    return write_cifar_pickles(str(tmp_path_factory.mktemp('c10')), 10, 20,
                               3)


def test_train_split_keeps_seeded_long_tailed_subset(cifar10):
    ds = DATASETS.build(dict(type='CIFAR10LT', data_root=cifar10,
                             imbalance_ratio=10))
    counts = long_tailed_counts(20, 10, 10)
    assert counts == (20, 15, 11, 9, 7, 5, 4, 3, 2, 2)
    assert ds.metainfo['train_class_counts'] == counts
    assert np.bincount(ds.get_gt_labels()).tolist() == list(counts)
    # Same selection as a RandomState(0) shuffle per class in class order.
    labels, rows = [], []
    for i in range(1, 6):
        with open(osp.join(cifar10, 'cifar-10-batches-py',
                           f'data_batch_{i}'), 'rb') as f:
            entry = pickle.load(f)
        labels += entry['labels']
        rows.append(entry['data'])
    labels, rows = np.array(labels), np.concatenate(rows)
    rng = np.random.RandomState(0)
    want = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        want += idx[:n].tolist()
    got = [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]
    assert got == want
    info = ds.get_data_info(5)
    img = rows[info['source_idx']].reshape(3, 32, 32).transpose(1, 2, 0)
    assert info['img'].shape == (32, 32, 3)
    assert np.array_equal(info['img'], img)
    assert info['gt_label'] == labels[info['source_idx']]
    other = DATASETS.build(dict(type='CIFAR10LT', data_root=cifar10,
                                imbalance_ratio=10, seed=1))
    assert [other.get_data_info(i)['source_idx']
            for i in range(len(other))] != want


def test_test_split_is_balanced_and_knows_train_counts(cifar10):
    ds = DATASETS.build(dict(type='CIFAR10LT', data_root=cifar10,
                             split='test', imbalance_ratio=10))
    assert np.bincount(ds.get_gt_labels()).tolist() == [3] * 10
    assert ds.metainfo['train_class_counts'] == long_tailed_counts(20, 10, 10)


def test_cifar100_layout(tmp_path):
    root = write_cifar_pickles(str(tmp_path), 100, 3, 1)
    ds = DATASETS.build(dict(type='CIFAR100LT', data_root=root,
                             imbalance_ratio=1.5))
    assert len(ds.metainfo['train_class_counts']) == 100
    assert len(ds) == sum(long_tailed_counts(3, 1.5, 100))
    assert len(ds.metainfo['classes']) == 100


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'cifar-10-batches-py.*data_batch_1'):
        DATASETS.build(dict(type='CIFAR10LT', data_root=str(tmp_path)))


def test_too_large_imbalance_ratio(cifar10):
    with pytest.raises(ValueError, match='without training images'):
        DATASETS.build(dict(type='CIFAR10LT', data_root=cifar10,
                            imbalance_ratio=100))
    with pytest.raises(ValueError, match='imbalance_ratio'):
        DATASETS.build(dict(type='CIFAR10LT', data_root=cifar10,
                            imbalance_ratio=0.5))
