"""ClassAwareSampler: exact class balance, cycling within each class,
determinism, rank splitting and argument checks."""
import numpy as np
import pytest
from mmengine.registry import DATA_SAMPLERS

import mmdsb  # noqa: F401
import mmdsb.datasets.samplers as samplers_mod
from mmdsb.datasets import ClassAwareSampler, DigitsLT


class _Labels:
    """The smallest dataset a sampler needs: labels and metainfo."""

    def __init__(self, labels, classes=None):
        self.labels = np.asarray(labels, dtype=np.int64)
        self.metainfo = {'classes': classes} if classes else {}

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


class _CatIds:
    """A dataset that only answers ``get_cat_ids``."""

    def __init__(self, labels):
        self.labels = list(labels)

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, i):
        return [self.labels[i]]


COUNTS = (6, 3, 1)
LABELS = np.repeat(np.arange(3), COUNTS)  # indices 0-5, 6-8, 9


def drawn(sampler, labels=LABELS):
    idx = np.array(list(sampler))
    return idx, labels[idx]


def test_classes_are_drawn_exactly_equally():
    sampler = ClassAwareSampler(_Labels(LABELS), num_samples=9, seed=0)
    idx, y = drawn(sampler)
    assert len(sampler) == len(idx) == 9
    assert np.bincount(y, minlength=3).tolist() == [3, 3, 3]
    # The class sequence is made of whole permutations of the classes.
    for block in y.reshape(3, 3):
        assert sorted(block.tolist()) == [0, 1, 2]


def test_default_length_is_the_dataset_size():
    sampler = ClassAwareSampler(_Labels(LABELS), seed=0)
    idx, y = drawn(sampler)
    assert len(sampler) == len(idx) == 10
    # Three whole class permutations, then one slot of a fourth.
    assert np.bincount(y[:9], minlength=3).tolist() == [3, 3, 3]


def test_slots_take_num_samples_cls_images_of_one_class():
    sampler = ClassAwareSampler(_Labels(LABELS), num_samples_cls=2,
                                num_samples=12, seed=3)
    idx, y = drawn(sampler)
    assert np.bincount(y, minlength=3).tolist() == [4, 4, 4]
    slots = y.reshape(6, 2)
    assert (slots[:, 0] == slots[:, 1]).all()
    for perm in slots[:, 0].reshape(2, 3):
        assert sorted(perm.tolist()) == [0, 1, 2]
    # Class 2 has one image: its slot repeats it.
    assert idx[y == 2].tolist() == [9, 9, 9, 9]


@pytest.mark.parametrize('num_samples_cls', [1, 4])
def test_every_image_of_a_class_is_used_before_any_repeats(num_samples_cls):
    sampler = ClassAwareSampler(_Labels(LABELS),
                                num_samples_cls=num_samples_cls,
                                num_samples=3 * 4 * 60, seed=1)
    idx, y = drawn(sampler)
    for c, n in enumerate(COUNTS):
        members = idx[y == c]
        assert len(members) == 240
        rounds = members.reshape(-1, n)
        want = np.flatnonzero(LABELS == c).tolist()
        for r in rounds:
            assert sorted(r.tolist()) == want
        if n > 1:  # each round is a fresh shuffle
            assert len({tuple(r) for r in rounds}) > 1


def test_class_order_is_reshuffled_per_permutation():
    sampler = ClassAwareSampler(_Labels(LABELS), num_samples=300, seed=0)
    _, y = drawn(sampler)
    perms = {tuple(b) for b in y.reshape(100, 3).tolist()}
    assert len(perms) == 6  # all orders of three classes occur


def test_deterministic_per_seed_and_epoch(monkeypatch):
    dataset = _Labels(np.repeat(np.arange(5), [40, 20, 10, 5, 2]))
    sampler = ClassAwareSampler(dataset, seed=5)
    first = list(sampler)
    assert list(sampler) == first
    assert list(ClassAwareSampler(dataset, seed=5)) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    # Epoch e uses the generator seeded with seed + e.
    assert list(ClassAwareSampler(dataset, seed=6)) == second
    # No seed: the synchronised random seed.
    monkeypatch.setattr(samplers_mod, 'sync_random_seed', lambda: 5)
    assert list(ClassAwareSampler(dataset)) == first


@pytest.mark.parametrize('world, n', [(2, 11), (3, 10), (4, 16)])
def test_ranks_interleave_to_the_single_rank_sequence(monkeypatch, world, n):
    dataset = _Labels(np.repeat(np.arange(4), [9, 5, 2, 1]))
    total = -(-n // world) * world
    parts = []
    for rank in range(world):
        monkeypatch.setattr(samplers_mod, 'get_dist_info',
                            lambda r=rank: (r, world))
        s = ClassAwareSampler(dataset, num_samples_cls=2, num_samples=n,
                              seed=2)
        s.set_epoch(3)
        parts.append(list(s))
        assert len(s) == len(parts[-1]) == total // world
    merged = [v for group in zip(*parts) for v in group]
    monkeypatch.setattr(samplers_mod, 'get_dist_info', lambda: (0, 1))
    single = ClassAwareSampler(dataset, num_samples_cls=2, num_samples=total,
                               seed=2)
    single.set_epoch(3)
    assert merged == list(single)


def test_absent_classes_are_never_drawn():
    labels = np.repeat([0, 2, 5], [7, 2, 4])
    dataset = _Labels(labels, classes=[str(i) for i in range(6)])
    sampler = ClassAwareSampler(dataset, num_samples=300, seed=0)
    _, y = drawn(sampler, labels)
    assert np.bincount(y, minlength=6).tolist() == [100, 0, 100, 0, 0, 100]
    assert sampler.classes.tolist() == [0, 2, 5]


def test_labels_from_get_cat_ids():
    labels = [1, 0, 1, 1, 0, 1]
    sampler = ClassAwareSampler(_CatIds(labels), num_samples=8, seed=0)
    y = np.asarray(labels)[list(sampler)]
    assert np.bincount(y).tolist() == [4, 4]


def test_builds_from_the_registry_on_a_real_dataset():
    dataset = DigitsLT(split='train', imbalance_ratio=50)
    sampler = DATA_SAMPLERS.build(
        dict(type='ClassAwareSampler'),
        default_args=dict(dataset=dataset, seed=0))
    assert isinstance(sampler, ClassAwareSampler)
    labels = np.asarray(dataset.get_gt_labels())
    assert np.bincount(labels).tolist() == [124, 80, 51, 33, 21, 14, 9, 5,
                                            3, 2]
    idx = list(sampler)
    assert len(idx) == len(dataset) == 342
    # 34 whole permutations of the 10 classes, then 2 more slots.
    counts = np.bincount(labels[idx], minlength=10)
    assert sorted(counts.tolist()) == [34] * 8 + [35] * 2
    # Class 9 (2 images) is drawn 34 or 35 times: each image 17 or 18.
    tail = np.bincount(np.asarray(idx)[labels[idx] == 9])
    assert sorted(tail[tail > 0].tolist()) in ([17, 17], [17, 18])


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_samples_cls=0), 'num_samples_cls'),
    (dict(num_samples_cls=-2), 'num_samples_cls'),
    (dict(num_samples_cls=1.5), 'num_samples_cls'),
    (dict(num_samples_cls=True), 'num_samples_cls'),
    (dict(num_samples=0), 'num_samples'),
    (dict(num_samples=-5), 'num_samples'),
])
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=f'ClassAwareSampler: {name} must'):
        ClassAwareSampler(_Labels(LABELS), seed=0, **kwargs)


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match='ClassAwareSampler: dataset is '
                       'empty'):
        ClassAwareSampler(_Labels([]), seed=0)
