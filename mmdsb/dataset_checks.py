"""A clear error for a dataset that holds no sample.

mmengine serialises a dataset's annotations once they are loaded,
filtered (``filter_cfg``) and cut to ``indices``; on an empty list numpy
fails with "need at least one array to concatenate", which names neither
the dataset nor the cause. Importing mmdsb makes that error name both.
"""
from mmengine.dataset import BaseDataset

__all__ = ['describe_dataset']


def describe_dataset(dataset) -> str:
    """``CocoDataset (ann_file '...', data_root '...')``: the dataset's
    class and the settings that decide its samples."""
    parts = [
        f'{name} {value!r}'
        for name, value in (('ann_file', getattr(dataset, 'ann_file', '')),
                            ('data_root', getattr(dataset, 'data_root', '')),
                            ('indices', getattr(dataset, '_indices', None)),
                            ('filter_cfg',
                             getattr(dataset, 'filter_cfg', None)))
        if value not in ('', None)
    ]
    return type(dataset).__name__ + (f" ({', '.join(parts)})"
                                     if parts else '')


_serialize_data = BaseDataset._serialize_data


def _serialize_nonempty(self):
    if len(self.data_list) == 0:
        raise ValueError(
            f'{describe_dataset(self)} holds no samples after loading its '
            'annotations, filtering (filter_cfg) and indices: check '
            'data_root, ann_file, filter_cfg and indices')
    return _serialize_data(self)


BaseDataset._serialize_data = _serialize_nonempty
