"""Long-tailed benchmark datasets on small real-format fixtures."""
import json
import os.path as osp

import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import mmdsb  # noqa: F401
from fixtures import (write_glt_annotations, write_image_list, write_inat_json,
                      write_mnist_idx)

# Paper Table 7.
LT1 = [5923, 3590, 2940, 2518, 2256, 1972, 1700, 1300, 1100, 900]
LT2 = [5923, 3090, 2540, 1818, 1356, 972, 484, 272, 122, 74]


@pytest.fixture(scope='module')
def mnist_root(tmp_path_factory):
    # The real MNIST class sizes are above every Table 7 count; the fixture
    # has 6000 images per class (uncompressed) and 3 test images per class.
    return write_mnist_idx(str(tmp_path_factory.mktemp('mnist')),
                           [6000] * 9 + [5990], [3] * 10)


@pytest.mark.parametrize('profile,expected', [('MNIST-LT-1', LT1),
                                              ('MNIST-LT-2', LT2)])
def test_mnist_lt_table7_counts(mnist_root, profile, expected):
    ds = DATASETS.build(dict(type='MNISTLT', data_root=mnist_root,
                             profile=profile))
    assert list(ds.train_class_counts) == expected
    assert len(ds) == sum(expected) == (24199 if profile == 'MNIST-LT-1'
                                        else 16651)
    labels = np.array([d['gt_label'] for d in ds.load_data_list()])
    assert np.bincount(labels).tolist() == expected
    sample = ds[0]
    assert sample['img'].shape == (28, 28)
    # Each kept image really is of its label (class-specific square).
    r, c = divmod(sample['gt_label'], 4)
    assert sample['img'][2 + 6 * r, 2 + 6 * c] == 200


def test_mnist_lt_test_split_and_seed(mnist_root):
    test = DATASETS.build(dict(type='MNISTLT', data_root=mnist_root,
                               split='test', profile='MNIST-LT-2'))
    assert len(test) == 30
    assert test.metainfo['train_class_counts'] == tuple(LT2)
    a = DATASETS.build(dict(type='MNISTLT', data_root=mnist_root, seed=0))
    b = DATASETS.build(dict(type='MNISTLT', data_root=mnist_root, seed=1))
    ids_a = [d['source_idx'] for d in a.load_data_list()]
    ids_b = [d['source_idx'] for d in b.load_data_list()]
    assert ids_a != ids_b and len(set(ids_a)) == len(ids_a)


def test_mnist_lt_exponential_profile_gz(tmp_path):
    root = write_mnist_idx(str(tmp_path), [40] * 10, [1] * 10, gz=True)
    ds = DATASETS.build(dict(type='MNISTLT', data_root=root, profile='exp',
                             imbalance_ratio=10))
    # int(40 * 0.1 ** (i / 9)) for i = 0..9
    assert list(ds.train_class_counts) == [40, 30, 23, 18, 14, 11, 8, 6, 5,
                                           4]
    assert len(ds) == 159


def test_mnist_lt_errors(tmp_path):
    root = write_mnist_idx(str(tmp_path), [100] * 10, [1] * 10)
    with pytest.raises(ValueError, match='class 0 needs 5923'):
        DATASETS.build(dict(type='MNISTLT', data_root=root))
    with pytest.raises(FileNotFoundError, match='t10k-images-idx3-ubyte'):
        DATASETS.build(dict(type='MNISTLT', data_root=str(tmp_path / 'x')))
    with open(osp.join(root, 'train-labels-idx1-ubyte'), 'r+b') as f:
        f.write((0x0803).to_bytes(4, 'big'))
    with pytest.raises(ValueError, match='train-labels-idx1-ubyte: magic'):
        DATASETS.build(dict(type='MNISTLT', data_root=root, profile='exp',
                            imbalance_ratio=2))


@pytest.mark.parametrize('kind,pattern,num_classes',
                         [('ImageNetLT', 'ImageNet_LT_{}.txt', 1000),
                          ('PlacesLT', 'Places_LT_{}.txt', 365)])
def test_split_list_datasets(tmp_path, kind, pattern, num_classes):
    root = str(tmp_path)
    labels = [0, 3, num_classes - 1]
    for split, counts in (('train', [4, 1, 2]), ('val', [1, 1, 1]),
                          ('test', [2, 2, 2])):
        write_image_list(root, counts, labels=labels,
                         name='meta/' + pattern.format(split), seed=len(
                             split))
    for split, n in (('train', 7), ('val', 3), ('test', 6)):
        ds = DATASETS.build(dict(type=kind, data_root=root, split=split))
        counts = ds.metainfo['train_class_counts']
        assert len(counts) == num_classes and sum(counts) == 7
        assert (counts[0], counts[3], counts[-1]) == (4, 1, 2)
        assert len(ds) == n
    info = ds.get_data_info(0)
    assert osp.isfile(info['img_path']) and info['gt_label'] == 0


def test_split_list_errors_name_file_line_and_layout(tmp_path):
    root = str(tmp_path)
    write_image_list(root, [2, 1], name='meta/ImageNet_LT_train.txt')
    with pytest.raises(FileNotFoundError,
                       match=r'ImageNet_LT_test.txt.*<image path> <integer'):
        DATASETS.build(dict(type='ImageNetLT', data_root=root,
                            split='test')).full_init()
    with open(osp.join(root, 'meta', 'ImageNet_LT_train.txt'), 'a') as f:
        f.write('000/extra.png cat\n')
    with pytest.raises(ValueError,
                       match=r'ImageNet_LT_train.txt, line 4: expected '
                       r'"<image path> <integer label>"'):
        DATASETS.build(dict(type='ImageNetLT', data_root=root))
    write_image_list(root, [1], labels=[365], name='meta/Places_LT_train.txt')
    with pytest.raises(ValueError, match='line 1: label 365 is not below'):
        DATASETS.build(dict(type='PlacesLT', data_root=root))


def test_inaturalist_json(tmp_path):
    root = write_inat_json(str(tmp_path), [5, 2, 1], [1, 1, 1],
                           labels=[0, 7, 8141])
    train = DATASETS.build(dict(type='INaturalist2018', data_root=root))
    counts = train.metainfo['train_class_counts']
    assert len(counts) == 8142 and sum(counts) == 8
    assert (counts[0], counts[7], counts[8141]) == (5, 2, 1)
    assert len(train) == 8
    val = DATASETS.build(dict(type='INaturalist2018', data_root=root,
                              split='val'))
    assert sorted(d['gt_label'] for d in val.load_data_list()) == [0, 7,
                                                                   8141]
    assert osp.isfile(val.get_data_info(0)['img_path'])
    # A config may give the counts (e.g. a subset evaluated with the full
    # set's shot groups).
    given = DATASETS.build(dict(type='INaturalist2018', data_root=root,
                                metainfo=dict(train_class_counts=[3] *
                                              8142)))
    assert given.train_class_counts == (3, ) * 8142


def test_inaturalist_errors(tmp_path):
    root = write_inat_json(str(tmp_path), [1, 1], [1, 1])
    path = osp.join(root, 'val2018.json')
    with open(path) as f:
        data = json.load(f)
    data['annotations'][1]['category_id'] = 9000
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError,
                       match=r'val2018.json: annotations\[1\].*"category_id"'
                       ):
        DATASETS.build(dict(type='INaturalist2018', data_root=root,
                            split='val')).full_init()
    with open(path, 'w') as f:
        f.write('{"images": [\n oops')
    with pytest.raises(ValueError, match='val2018.json, line 2: invalid JSON'):
        DATASETS.build(dict(type='INaturalist2018', data_root=root,
                            split='val')).full_init()
    with pytest.raises(FileNotFoundError, match='train2018.json'):
        DATASETS.build(dict(type='INaturalist2018',
                            data_root=str(tmp_path / 'none')))


def test_mscoco_glt_protocols(tmp_path):
    root = write_glt_annotations(str(tmp_path), train_glt=[6, 3, 1],
                                 train_cbl=[2, 2, 2], test_per_class=2)
    kw = dict(type='MSCOCOGLT', data_root=root, num_classes=3)
    expected = {'clt': ((6, 3, 1), 10, 'coco_glt', 'test_bl'),
                'glt': ((6, 3, 1), 10, 'coco_glt', 'test_bbl'),
                'alt': ((2, 2, 2), 6, 'coco_cbl', 'test_bbl')}
    for protocol, (counts, n_train, subset, split) in expected.items():
        train = DATASETS.build(dict(kw, protocol=protocol))
        test = DATASETS.build(dict(kw, protocol=protocol, split='test'))
        val = DATASETS.build(dict(kw, protocol=protocol, split='val'))
        assert train.train_class_counts == counts
        assert test.metainfo['train_class_counts'] == counts
        assert len(train) == n_train and len(test) == 6 and len(val) == 3
        info = test.get_data_info(5)
        # The release's absolute paths are replaced by the images beside
        # the annotation file.
        assert info['img_path'] == osp.join(root, subset, 'images',
                                            f'{subset}-{split}-5.jpg')
        assert osp.isfile(info['img_path'])
        assert (info['gt_label'], info['attribute']) == (2, 1)
    assert [train.get_data_info(i)['gt_label'] for i in range(6)] == [
        0, 0, 1, 1, 2, 2]
    assert DATASETS.build(dict(type='MSCOCOGLT', data_root=root,
                               protocol='alt', metainfo=dict(
                                   train_class_counts=[1] * 29))
                          ).num_classes == 29


def test_mscoco_glt_bad_annotations(tmp_path):
    root = write_glt_annotations(str(tmp_path), [2, 1], [1, 1])
    path = osp.join(root, 'coco_glt', 'annotation.json')
    with open(path) as f:
        data = json.load(f)
    data['test_bl']['label']['coco_glt-test_bl-3'] = 7
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match=r"annotation.json: test_bl entry "
                       r"'coco_glt-test_bl-3' needs an integer label in "
                       r"\[0, 2\).*label=7"):
        DATASETS.build(dict(type='MSCOCOGLT', data_root=root, num_classes=2,
                            protocol='clt', split='test'))
    del data['train']
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match='split "train" with "label" and '
                       '"path" not found'):
        DATASETS.build(dict(type='MSCOCOGLT', data_root=root, num_classes=2))
    with open(path, 'w') as f:
        f.write('{"train":\n [')
    with pytest.raises(ValueError, match='annotation.json, line 2: invalid'):
        DATASETS.build(dict(type='MSCOCOGLT', data_root=root, num_classes=2))
    with pytest.raises(FileNotFoundError,
                       match='coco_cbl/annotation.json not found|'
                       'not found: .*coco_cbl'):
        DATASETS.build(dict(type='MSCOCOGLT', data_root=str(tmp_path / 'x'),
                            protocol='alt'))
    with pytest.raises(ValueError, match='protocol must be one of'):
        DATASETS.build(dict(type='MSCOCOGLT', data_root=root,
                            protocol='xlt'))
