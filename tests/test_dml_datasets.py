"""Class-disjoint retrieval datasets on fixture files: the train/test
classes, labels, image counts, the long-tailed training counts (against
a hand computation), the config pieces' pipelines and the input errors."""
import math
import os
import os.path as osp
import pickle
import re

import mat4py
import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.datasets.categories import (CIFAR100_CATEGORIES,
                                            CUB_CATEGORIES,
                                            STANFORDCARS_CATEGORIES)
from mmpretrain.registry import DATASETS

import mmdsb  # noqa: F401
from fixtures_dml import (mini_imagenet_wnids, write_cifar100, write_cub,
                          write_mini_imagenet, write_stanford_cars)
from mmdsb.engine import dataset_class_counts

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Uneven class sizes, so that counts and labels cannot agree by accident.
CUB_COUNTS = [1 + c % 3 for c in range(200)]
CARS_COUNTS = [2 + (5 * c) % 4 for c in range(196)]


def build(type_, root, **kwargs):
    return DATASETS.build(dict(type=type_, data_root=root, **kwargs))


def labels_of(ds):
    return [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]


@pytest.fixture(scope='module')
def cub(tmp_path_factory):
    return write_cub(str(tmp_path_factory.mktemp('cub')), CUB_COUNTS)


@pytest.fixture(scope='module')
def cars(tmp_path_factory):
    return write_stanford_cars(str(tmp_path_factory.mktemp('cars')),
                               CARS_COUNTS)


@pytest.fixture(scope='module')
def mini(tmp_path_factory):
    counts = [1 + c % 2 for c in range(100)]
    return write_mini_imagenet(str(tmp_path_factory.mktemp('mini')),
                               counts), counts


@pytest.fixture(scope='module')
def cifar_small(tmp_path_factory):
    """12 images of each class: 10 in train, 2 in test."""
    return write_cifar100(str(tmp_path_factory.mktemp('cifar_small')), 12)


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    """200 images of each training class (enough for mu = 200), 3 of each
    test class."""
    return write_cifar100(str(tmp_path_factory.mktemp('cifar')),
                          [200] * 60 + [3] * 40)


def test_cub_classes_1_to_100_train_101_to_200_test(cub):
    train = build('CUBRetrieval', cub, split='train')
    test = build('CUBRetrieval', cub, split='test')
    names = [f'{c:03d}.{CUB_CATEGORIES[c - 1]}' for c in range(1, 201)]
    assert train.metainfo['classes'] == tuple(names[:100])
    assert test.metainfo['classes'] == tuple(names[100:])
    # All images of a class, whatever train_test_split.txt says.
    assert len(train) == sum(CUB_COUNTS[:100]) == 199
    assert len(test) == sum(CUB_COUNTS[100:]) == 200
    assert np.bincount(train.get_gt_labels()).tolist() == CUB_COUNTS[:100]
    assert np.bincount(test.get_gt_labels()).tolist() == CUB_COUNTS[100:]
    with open(osp.join(cub, 'image_class_labels.txt')) as f:
        class_of = dict(line.split() for line in f)
    with open(osp.join(cub, 'images.txt')) as f:
        image_id = {osp.join(cub, 'images', rel): i
                    for i, rel in (line.split() for line in f)}
    for ds, offset in ((train, 1), (test, 101)):
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            assert int(class_of[image_id[info['img_path']]]) == \
                info['gt_label'] + offset
    assert train.metainfo['train_class_counts'] == tuple(CUB_COUNTS[:100])
    assert 'train_class_counts' not in test.metainfo


@pytest.mark.parametrize('layout', ['devkit', 'car_ims'])
def test_cars_both_official_splits_classes_1_to_98_train(cars, layout,
                                                         tmp_path):
    root = cars if layout == 'devkit' else write_stanford_cars(
        str(tmp_path), CARS_COUNTS, layout='car_ims')
    train = build('StanfordCarsRetrieval', root, split='train')
    test = build('StanfordCarsRetrieval', root, split='test')
    assert train.metainfo['classes'] == STANFORDCARS_CATEGORIES[:98]
    assert test.metainfo['classes'] == STANFORDCARS_CATEGORIES[98:]
    assert len(train) + len(test) == sum(CARS_COUNTS)
    assert np.bincount(train.get_gt_labels()).tolist() == CARS_COUNTS[:98]
    assert np.bincount(test.get_gt_labels()).tolist() == CARS_COUNTS[98:]
    # Class of every image by mmpretrain's own .mat reader (mat4py).
    if layout == 'devkit':
        files = [('cars_train', 'devkit/cars_train_annos.mat', 'fname'),
                 ('cars_test', 'devkit/cars_test_annos_withlabels.mat',
                  'fname')]
    else:
        files = [('', 'cars_annos.mat', 'relative_im_path')]
    class_of = {}
    for folder, name, key in files:
        ann = mat4py.loadmat(osp.join(root, name))['annotations']
        class_of.update({osp.join(root, folder, f): c
                         for f, c in zip(ann[key], ann['class'])})
    assert len(class_of) == sum(CARS_COUNTS)
    for ds, offset in ((train, 1), (test, 99)):
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            assert class_of[info['img_path']] == info['gt_label'] + offset


def test_mini_imagenet_train_csv_classes_train_val_test_csv_test(mini):
    root, counts = mini
    train = build('MiniImageNetRetrieval', root, split='train')
    test = build('MiniImageNetRetrieval', root, split='test')
    train_ids, val_ids, test_ids = mini_imagenet_wnids()
    assert train.metainfo['classes'] == tuple(train_ids)
    assert test.metainfo['classes'] == tuple(val_ids + test_ids)
    assert not set(train_ids) & set(val_ids + test_ids)
    assert len(train) == sum(counts[:64]) == 96
    assert len(test) == sum(counts[64:]) == 54
    assert np.bincount(test.get_gt_labels()).tolist() == counts[64:]
    for ds in (train, test):
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            # File names start with the WordNet id of their class.
            assert osp.basename(info['img_path'])[:9] == \
                ds.metainfo['classes'][info['gt_label']]


def _cifar_rows(root):
    data, labels = [], []
    for name in ('train', 'test'):
        with open(osp.join(root, 'cifar-100-python', name), 'rb') as f:
            entry = pickle.load(f)
        data.append(entry['data'])
        labels += entry['fine_labels']
    return np.concatenate(data), np.array(labels)


def test_cifar100_600_per_class_first_60_classes_train(cifar_small):
    root = cifar_small
    train = build('CIFAR100Retrieval', root, split='train')
    test = build('CIFAR100Retrieval', root, split='test')
    assert train.metainfo['classes'] == CIFAR100_CATEGORIES[:60]
    assert test.metainfo['classes'] == CIFAR100_CATEGORIES[60:]
    # Both pickles: 10 train + 2 test images of each class.
    assert len(train) == 60 * 12 and len(test) == 40 * 12
    assert np.bincount(train.get_gt_labels()).tolist() == [12] * 60
    assert np.bincount(test.get_gt_labels()).tolist() == [12] * 40
    rows, labels = _cifar_rows(root)
    for ds, offset in ((train, 0), (test, 60)):
        sources = [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]
        assert sorted(sources) == np.flatnonzero(
            (labels >= offset) & (labels < offset + len(
                ds.metainfo['classes']))).tolist()
        for i in (0, len(ds) - 1):
            info = ds.get_data_info(i)
            src = info['source_idx']
            assert labels[src] == info['gt_label'] + offset
            assert np.array_equal(
                info['img'], rows[src].reshape(3, 32, 32).transpose(1, 2, 0))


@pytest.mark.parametrize('mu', [10, 50, 200])
def test_cifar100_lt_counts_follow_exponential(cifar, mu):
    want = [math.floor(200 * mu**(i / (1 - 60))) for i in range(60)]
    assert want[0] == 200 and want[-1] == 200 // mu
    ds = build('CIFAR100Retrieval', cifar, split='train',
               imbalance_factor=mu, seed=0, serialize_data=False)
    assert list(ds.metainfo['train_class_counts']) == want
    assert np.bincount(ds.get_gt_labels()).tolist() == want
    assert dataset_class_counts(ds) == want  # what ClassCountsHook reads
    _, labels = _cifar_rows(cifar)
    sources = [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]
    assert len(set(sources)) == len(sources)
    assert all(labels[s] == ds.get_data_info(i)['gt_label']
               for i, s in enumerate(sources))


def test_cifar100_lt_selection_follows_the_seed(cifar):
    def sources(**kwargs):
        ds = build('CIFAR100Retrieval', cifar, imbalance_factor=50,
                   serialize_data=False, **kwargs)
        return [ds.get_data_info(i)['source_idx'] for i in range(len(ds))]

    first = sources(seed=0)
    assert sources(seed=0) == first
    other = sources(seed=1)
    assert other != first
    _, labels = _cifar_rows(cifar)
    # The documented selection: the first n_c of a RandomState(seed)
    # permutation of each class's images, classes in order.
    rng, want = np.random.RandomState(0), []
    for c in range(60):
        idx = np.flatnonzero(labels == c)
        want += idx[rng.permutation(len(idx))[:math.floor(
            200 * 50**(c / -59))]].tolist()
    assert first == sorted(want)
    assert np.bincount(labels[first]).tolist() == np.bincount(
        labels[other]).tolist()
    # The test split is never reduced.
    test = build('CIFAR100Retrieval', cifar, split='test',
                 imbalance_factor=50, serialize_data=False)
    assert np.bincount(test.get_gt_labels()).tolist() == [3] * 40


@pytest.mark.parametrize('mu', [None, 1])
def test_balanced_when_factor_is_none_or_one(cifar_small, mu):
    ds = build('CIFAR100Retrieval', cifar_small, split='train',
               imbalance_factor=mu)
    assert ds.metainfo['train_class_counts'] == (12, ) * 60
    assert len(ds) == 720


def test_cars_lt_uses_each_class_own_size(tmp_path):
    sizes = [10 + (7 * i) % 11 for i in range(98)] + [1] * 98
    root = write_stanford_cars(str(tmp_path), sizes)
    ds = build('StanfordCarsRetrieval', root, split='train',
               imbalance_factor=10, seed=3, serialize_data=False)
    want = [math.floor(sizes[i] * 10**(i / (1 - 98))) for i in range(98)]
    assert want[0] == 10 and want[-1] == 1  # sizes 10 ... 17
    assert list(ds.metainfo['train_class_counts']) == want
    assert np.bincount(ds.get_gt_labels()).tolist() == want
    test = build('StanfordCarsRetrieval', root, split='test',
                 imbalance_factor=10, seed=3)
    assert len(test) == 98
    # mu <= N_j ** (97 / j) for every class j keeps an image of each; the
    # tightest is class 96 (11 images): 11 ** (97 / 96) = 11.278.
    assert min(sizes[j]**(97 / j) for j in range(1, 98)) == \
        11**(97 / 96) == pytest.approx(11.2782, abs=1e-4)
    with pytest.raises(ValueError, match=re.escape(
            'imbalance_factor=11.28 leaves training class 96 (Dodge Charger '
            'SRT-8 2009, 11 images) without images; the training classes '
            'allow imbalance_factor <= 11.27') + '$'):
        build('StanfordCarsRetrieval', root, imbalance_factor=11.28)
    ds = build('StanfordCarsRetrieval', root, imbalance_factor=11.27,
               serialize_data=False)
    assert min(ds.metainfo['train_class_counts']) == 1


@pytest.mark.parametrize('piece,type_,fixture', [
    ('dml_cub', 'CUBRetrieval', 'cub'),
    ('dml_cars196-lt', 'StanfordCarsRetrieval', 'cars'),
    ('dml_mini-imagenet', 'MiniImageNetRetrieval', 'mini'),
    ('dml_cifar100-lt', 'CIFAR100Retrieval', 'cifar_small'),
])
def test_config_pieces_give_224_inputs(piece, type_, fixture, request):
    root = request.getfixturevalue(fixture)
    root = root[0] if isinstance(root, tuple) else root
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'datasets', piece + '.py'))
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.val_evaluator == dict(type='RetrievalMetric',
                                     embedding_key='embedding')
    for loader, split in ((cfg.train_dataloader, 'train'),
                          (cfg.test_dataloader, 'test')):
        assert loader.dataset.type == type_ and loader.dataset.split == split
        dataset_cfg = dict(loader.dataset, data_root=root)
        if piece.endswith('-lt'):
            # The pieces' factor (10) needs 10 images in the tail class.
            assert cfg.imbalance_factor == 10
            dataset_cfg.pop('imbalance_factor', None)
        ds = DATASETS.build(dataset_cfg)
        sample = ds[0]
        assert tuple(sample['inputs'].shape) == (3, 224, 224)
        assert sample['data_samples'].gt_label.tolist() == [
            ds.get_data_info(0)['gt_label']]
    assert cfg.train_dataloader.dataset.get('imbalance_factor') == (
        10 if piece.endswith('-lt') else None)


def test_bad_arguments(cub):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', "
                       "got 'val'"):
        build('CUBRetrieval', cub, split='val')
    for mu in (0.5, float('nan'), float('inf'), True, '10'):
        with pytest.raises(ValueError, match='imbalance_factor must be None '
                           r'\(balanced\) or a finite number >= 1'):
            build('CUBRetrieval', cub, imbalance_factor=mu)


def _copy_cub(src, dst, **replace):
    """A copy of the CUB index files (images shared) with some files
    replaced by the given lines (None: left out)."""
    os.makedirs(dst, exist_ok=True)
    for name in ('images.txt', 'image_class_labels.txt', 'classes.txt'):
        if name in replace:
            if replace[name] is not None:
                with open(osp.join(dst, name), 'w') as f:
                    f.write('\n'.join(replace[name]) + '\n')
            continue
        with open(osp.join(src, name)) as f, \
                open(osp.join(dst, name), 'w') as g:
            g.write(f.read())
    return dst


def test_cub_errors_name_the_file(cub, tmp_path):
    root = _copy_cub(cub, str(tmp_path / 'a'), **{'classes.txt': None})
    with pytest.raises(FileNotFoundError, match='classes.txt.*expected '
                       'the CUB-200-2011 layout'):
        build('CUBRetrieval', root)
    root = _copy_cub(cub, str(tmp_path / 'b'),
                     **{'images.txt': ['1 a.jpg', 'b.jpg']})
    with pytest.raises(ValueError, match=r'images.txt, line 2: expected '
                       r'"<id> <value>", got \'b.jpg\''):
        build('CUBRetrieval', root)
    # 150 classes: the test split lacks 50 of its classes.
    root = _copy_cub(cub, str(tmp_path / 'c'), **{'classes.txt': [
        f'{c} {c:03d}.x' for c in range(1, 151)]})
    with pytest.raises(ValueError, match=r'classes.txt lists 150 classes '
                       r'with ids 1..150; expected the ids 1..200'):
        build('CUBRetrieval', root, split='test')
    # Class 200 left out of image_class_labels.txt only, then of both.
    with open(osp.join(cub, 'image_class_labels.txt')) as f:
        rows = [line.split() for line in f]
    kept_ids = {i for i, c in rows if c != '200'}
    kept = [f'{i} {c}' for i, c in rows if i in kept_ids]
    root = _copy_cub(cub, str(tmp_path / 'd'),
                     **{'image_class_labels.txt': kept})
    first = next(i for i, c in rows if c == '200')
    with pytest.raises(ValueError, match=f'image id {first} is in only one '
                       'of .*images.txt and .*image_class_labels.txt'):
        build('CUBRetrieval', root, split='test')
    with open(osp.join(cub, 'images.txt')) as f:
        images = [line.strip() for line in f
                  if line.split()[0] in kept_ids]
    root = _copy_cub(cub, str(tmp_path / 'e'),
                     **{'image_class_labels.txt': kept,
                        'images.txt': images})
    with pytest.raises(ValueError, match=r'image_class_labels.txt has no '
                       r'image of class 200\.' + CUB_CATEGORIES[199]):
        build('CUBRetrieval', root, split='test')


def test_cars_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='cars_train_annos.mat; '
                       'expected the Stanford Cars layout'):
        build('StanfordCarsRetrieval', str(tmp_path))
    root = write_stanford_cars(str(tmp_path / 'few'), 2, num_classes=150)
    with pytest.raises(ValueError, match='has no image of class '
                       + STANFORDCARS_CATEGORIES[150]):
        build('StanfordCarsRetrieval', root)
    with open(osp.join(root, 'devkit', 'cars_train_annos.mat'), 'w') as f:
        f.write('not a MATLAB file')
    with pytest.raises(ValueError, match='cars_train_annos.mat is not a '
                       'readable MATLAB file'):
        build('StanfordCarsRetrieval', root)
    from scipy.io import savemat
    savemat(osp.join(root, 'devkit', 'cars_train_annos.mat'),
            {'annotations': np.zeros((1, 2), dtype=[('fname', 'O')])})
    with pytest.raises(ValueError, match=r"annotations\(1\) has fields "
                       r"\['fname'\], needs \['fname', 'class'\]"):
        build('StanfordCarsRetrieval', root)


def test_mini_imagenet_errors_name_the_file(mini, tmp_path):
    root = write_mini_imagenet(str(tmp_path / 'a'), 1, (64, 16, 10))
    with pytest.raises(ValueError, match=r'has 64 classes and .*val.csv '
                       r'with .*test.csv 26; expected 64 and 36'):
        build('MiniImageNetRetrieval', root)
    os.remove(osp.join(root, 'test.csv'))
    with pytest.raises(FileNotFoundError, match='test.csv; expected the '
                       'Mini-ImageNet layout'):
        build('MiniImageNetRetrieval', root)
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.write('image,class\na.jpg,n1\n')
    with pytest.raises(ValueError, match='test.csv: first line must be the '
                       'header "filename,label", got \'image,class\''):
        build('MiniImageNetRetrieval', root)
    # A training class among the test classes.
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.write(f'filename,label\nx.jpg,{mini_imagenet_wnids()[0][3]}\n')
    with pytest.raises(ValueError, match='class n01023757 of .*train.csv '
                       'also appears'):
        build('MiniImageNetRetrieval', root)


def test_cifar100_errors_name_the_file(tmp_path):
    root = write_cifar100(str(tmp_path), [0] + [1] * 99)
    with pytest.raises(ValueError, match=r'cifar-100-python/train and '
                       r'.*test has no image of class apple'):
        build('CIFAR100Retrieval', root)
    os.remove(osp.join(root, 'cifar-100-python', 'meta'))
    with pytest.raises(FileNotFoundError, match=r'meta; expected the '
                       r'CIFAR-100 python pickles'):
        build('CIFAR100Retrieval', root)
    with open(osp.join(root, 'cifar-100-python', 'meta'), 'wb') as f:
        pickle.dump({'fine_label_names': ['a'] * 20}, f)
    with pytest.raises(ValueError, match='meta names 20 fine classes; '
                       'expected 100'):
        build('CIFAR100Retrieval', root)
    with open(osp.join(root, 'cifar-100-python', 'meta'), 'wb') as f:
        pickle.dump(list(CIFAR100_CATEGORIES), f)
    with pytest.raises(ValueError, match=r'meta is not a CIFAR-100 meta '
                       r'pickle \(TypeError'):
        build('CIFAR100Retrieval', root)
