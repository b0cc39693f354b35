import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS
from sklearn.datasets import load_digits

from mmdsb.datasets import DigitsLT

# load_digits class sizes: 178 182 177 183 181 182 181 179 174 180.
# Defaults: n_max = 174 - 50 = 124, n_i = int(124 * 20 ** (-i / 9)):
# 124*[1, .7169, .5139, .3684, .2641, .1893, .1357, .0973, .0697, .05]
DEFAULT_COUNTS = (124, 88, 63, 45, 32, 23, 16, 12, 8, 6)
# rho=10, test_per_class=100: n_max = 74, n_i = int(74 * 10 ** (-i / 9)):
# 74*[1, .7743, .5995, .4642, .3594, .2783, .2154, .1668, .1292, .1]
RHO10_COUNTS = (74, 57, 44, 34, 26, 20, 15, 12, 9, 7)


def labels_of(ds):
    return [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]


def sources_of(ds):
    return [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]


def test_default_counts_and_metainfo():
    train = DATASETS.build(dict(type='DigitsLT'))
    test = DigitsLT(split='test')
    assert train.train_class_counts == DEFAULT_COUNTS
    assert test.train_class_counts == DEFAULT_COUNTS
    assert train.metainfo['train_class_counts'] == DEFAULT_COUNTS
    assert test.metainfo['train_class_counts'] == DEFAULT_COUNTS
    assert test.metainfo['classes'] == tuple('0123456789')
    assert len(train) == 417
    assert np.bincount(labels_of(train)).tolist() == list(DEFAULT_COUNTS)
    assert np.bincount(labels_of(test)).tolist() == [50] * 10
    assert train.get_cat_ids(len(train) - 1) == [9]


def test_other_ratio_counts():
    train = DigitsLT(imbalance_ratio=10, test_per_class=100)
    assert train.train_class_counts == RHO10_COUNTS
    assert np.bincount(labels_of(train)).tolist() == list(RHO10_COUNTS)
    assert len(DigitsLT(split='test', test_per_class=100)) == 1000
    # rho = 1 is balanced: every class keeps n_max images.
    assert DigitsLT(imbalance_ratio=1).train_class_counts == (124, ) * 10


def test_splits_disjoint_labels_match_source():
    train, test = DigitsLT(), DigitsLT(split='test')
    assert not set(sources_of(train)) & set(sources_of(test))
    assert len(set(sources_of(train))) == len(train)
    digits = load_digits()
    for ds in (train, test):
        for i in (0, 100, len(ds) - 1):
            info = ds.get_data_info(i)
            assert digits.target[info['source_idx']] == info['gt_label']
            expected = np.rint(digits.images[info['source_idx']] * 255 / 16)
            np.testing.assert_array_equal(info['img'], expected)


def test_seed_determinism():
    a, b = DigitsLT(seed=3), DigitsLT(seed=3)
    assert sources_of(a) == sources_of(b)
    assert sources_of(a) != sources_of(DigitsLT(seed=4))
    # Counts do not depend on the seed, only the chosen images do.
    assert DigitsLT(seed=4).train_class_counts == DEFAULT_COUNTS


def test_images_and_pipeline():
    ds = DigitsLT(
        split='test',
        pipeline=[dict(type='Resize', scale=(32, 32)),
                  dict(type='PackInputs')])
    info = ds.get_data_info(0)
    assert info['img'].dtype == np.uint8 and info['img'].shape == (8, 8)
    # 0..16 scaled to 0..255: 16 -> 255, 8 -> 127.5 -> 128.
    all_values = set()
    for i in range(len(ds)):
        all_values |= set(np.unique(ds.get_data_info(i)['img']).tolist())
    assert all_values <= {int(np.rint(v * 255 / 16)) for v in range(17)}
    assert 255 in all_values and 0 in all_values
    packed = ds[7]
    assert packed['inputs'].shape == (1, 32, 32)
    assert packed['inputs'].dtype == torch.uint8
    assert packed['data_samples'].gt_label.tolist() == [0]
    assert packed['data_samples'].ori_shape == (8, 8)


def test_lazy_init_keeps_metainfo():
    ds = DigitsLT(lazy_init=True)
    assert ds.metainfo['train_class_counts'] == DEFAULT_COUNTS
    assert len(ds) == 417


@pytest.mark.parametrize('kwargs, match', [
    (dict(split='val'), 'split'),
    (dict(imbalance_ratio=0.5), 'imbalance_ratio'),
    (dict(imbalance_ratio=float('inf')), 'imbalance_ratio'),
    (dict(imbalance_ratio=200), 'too large'),
    (dict(test_per_class=0), 'test_per_class'),
    (dict(test_per_class=174), 'no training image'),
    (dict(seed=1.5), 'seed'),
    (dict(metainfo=dict(classes=('a', 'b'))), '10 classes'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DigitsLT(**kwargs)


def test_largest_valid_test_per_class():
    # 173 leaves exactly one image in the smallest class (174 images).
    ds = DigitsLT(test_per_class=173, imbalance_ratio=1)
    assert ds.train_class_counts == (1, ) * 10
