"""The rows of a batch that are a sampler's padding repeats, found under
torch's BatchSampler and mmdet's AspectRatioBatchSampler, which regroups
the indices by aspect ratio."""
import math

import pytest
from mmdet.datasets.samplers import AspectRatioBatchSampler
from mmengine.dataset import BaseDataset, DefaultSampler
from torch.utils.data import BatchSampler, DataLoader

from mmdsb.engine.epoch_padding import batch_size_of, padding_masks


class Boxes(BaseDataset):
    """Images of the given (width, height); nothing to load."""

    def __init__(self, sizes):
        self.sizes = sizes
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(width=w, height=h) for w, h in self.sizes]


def rank_sampler(dataset, rank, world, seed=3):
    sampler = DefaultSampler(dataset, shuffle=True, seed=seed)
    # As on rank ``rank`` of ``world`` processes.
    sampler.rank, sampler.world_size = rank, world
    sampler.num_samples = math.ceil(len(dataset) / world)
    sampler.total_size = sampler.num_samples * world
    return sampler


def loader(dataset, rank, world, aspect_ratio, batch_size=2):
    sampler = rank_sampler(dataset, rank, world)
    batches = (AspectRatioBatchSampler(sampler, batch_size) if aspect_ratio
               else BatchSampler(sampler, batch_size, drop_last=False))
    return DataLoader(dataset, batch_sampler=batches)


# Wide and tall images mixed, so that the aspect-ratio groups reorder.
SIZES = [(40, 20), (20, 40), (20, 40), (40, 20), (20, 40), (40, 20),
         (20, 40), (20, 40), (40, 20)]


def kept_indices(dataset, world, aspect_ratio):
    kept = []
    for rank in range(world):
        data = loader(dataset, rank, world, aspect_ratio)
        masks = padding_masks(data, len(dataset), world, rank)
        batches = list(data.batch_sampler)
        if masks is None:
            masks = [None] * len(batches)
        assert len(masks) == len(batches)
        for batch, mask in zip(batches, masks):
            kept += [i for j, i in enumerate(batch) if mask is None or mask[j]]
    return kept


@pytest.mark.parametrize('aspect_ratio', [False, True])
@pytest.mark.parametrize('world', [1, 2, 4])
def test_each_sample_is_kept_once_per_epoch(aspect_ratio, world):
    dataset = Boxes(SIZES)
    assert sorted(kept_indices(dataset, world, aspect_ratio)) == list(
        range(len(SIZES)))


def test_padding_is_the_last_positions_under_batch_sampler():
    # 9 samples on 2 ranks: rank 1's fifth position (epoch position 9) is
    # the repeat of the epoch's first sample; rank 0 has no padding.
    dataset = Boxes(SIZES)
    assert padding_masks(loader(dataset, 0, 2, False), 9, 2, 0) is None
    assert padding_masks(loader(dataset, 1, 2, False), 9, 2,
                         1) == [None, None, [False]]


def test_aspect_ratio_groups_reorder_and_padding_follows_the_index():
    dataset = Boxes(SIZES)
    data = loader(dataset, 1, 2, True)
    order = list(data.batch_sampler.sampler)
    batches = list(data.batch_sampler)
    # The groups do reorder this rank's indices ...
    assert [i for b in batches for i in b] != order
    # ... and the padded one (the epoch's first sample, at rank 1's last
    # position) is dropped wherever its group puts it.
    first = list(rank_sampler(dataset, 0, 2))[0]
    assert order[-1] == first
    masks = padding_masks(data, 9, 2, 1)
    dropped = [i for b, m in zip(batches, masks) if m is not None
               for i, keep in zip(b, m) if not keep]
    assert dropped == [first]


def test_masks_leave_the_loaders_own_iteration_alone():
    # Computed while the loader's aspect-ratio groups are half filled.
    dataset = Boxes(SIZES)
    data = loader(dataset, 1, 2, True)
    expected = list(data.batch_sampler)
    running = iter(data.batch_sampler)
    first = next(running)
    masks = padding_masks(data, 9, 2, 1)
    assert [first, *running] == expected
    assert masks == padding_masks(loader(dataset, 1, 2, True), 9, 2, 1)


def test_batch_size_from_the_batch_sampler():
    dataset = Boxes(SIZES)
    assert batch_size_of(loader(dataset, 0, 1, True, batch_size=3)) == 3
    assert batch_size_of(DataLoader(dataset, batch_size=5)) == 5
