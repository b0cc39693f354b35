"""A warning for annotations that mmdet drops for their category.

``CocoDataset.parse_data_info`` (used by ``LVISV1Dataset`` and the other
COCO-format datasets of mmdet) skips every annotation whose
``category_id`` is not among the dataset's category ids: ids missing from
the file's ``categories``, and for COCO also categories whose names are not
in metainfo ``classes``. It does so without a word, so a typo in an
annotation file, or ``classes`` that do not match the file's category
names, silently removes boxes (and whole images, with ``filter_empty_gt``).

After ``load_data_list`` the dataset still holds ``cat_img_map`` (category
id to the image id of each of its annotations, from the COCO/LVIS API) and
``cat_ids`` (the ids it keeps), which is all the count needs; an
annotation that mmdet would also skip for another reason (``ignore``, an
empty box) is counted too. Importing :mod:`mmdsb.det` makes every
COCO-format dataset log one warning with the count when it loads.
"""
import logging
from collections import Counter
from typing import Dict

from mmengine.logging import print_log

__all__ = [
    'count_unknown_categories', 'warn_unknown_categories',
    'patch_unknown_category_warning'
]

# Category ids named in the warning; the count covers all of them.
MAX_EXAMPLE_IDS = 5


def count_unknown_categories(dataset) -> Dict[int, int]:
    """Annotations per ``category_id`` that ``dataset`` drops because the
    id is not among its ``cat_ids``, most frequent first; empty for a
    dataset without ``cat_img_map`` (not loaded, or not COCO-format)."""
    cat_img_map = getattr(dataset, 'cat_img_map', None)
    cat_ids = getattr(dataset, 'cat_ids', None)
    if cat_img_map is None or cat_ids is None:
        return {}
    known = set(cat_ids)
    counts = Counter({
        cat_id: len(img_ids)
        for cat_id, img_ids in cat_img_map.items()
        if cat_id not in known and len(img_ids) > 0
    })
    return dict(counts.most_common())


def warn_unknown_categories(dataset) -> int:
    """Log one warning if ``dataset`` drops annotations for their category;
    return how many it drops."""
    counts = count_unknown_categories(dataset)
    dropped = sum(counts.values())
    if not dropped:
        return 0
    total = sum(len(img_ids) for img_ids in dataset.cat_img_map.values())
    examples = ', '.join(
        f'{cat_id} ({n} annotation{"s" if n > 1 else ""})'
        for cat_id, n in list(counts.items())[:MAX_EXAMPLE_IDS])
    if len(counts) > MAX_EXAMPLE_IDS:
        examples += f' and {len(counts) - MAX_EXAMPLE_IDS} more'
    print_log(
        f'{type(dataset).__name__}: {dropped} of {total} annotations in '
        f'{dataset.ann_file} are dropped because their category_id is not '
        f"among the dataset's {len(dataset.cat_ids)} categories: "
        f'category_id {examples}. Check the categories of the file and the '
        "dataset's metainfo classes.",
        logger='current',
        level=logging.WARNING)
    return dropped


def _warning_full_init(full_init):

    def wrapper(self):
        loading = not self._fully_initialized
        full_init(self)
        if loading:
            warn_unknown_categories(self)

    wrapper.__doc__ = full_init.__doc__
    wrapper.warns_unknown_categories = True
    return wrapper


def patch_unknown_category_warning() -> None:
    """Make mmdet's ``CocoDataset`` and its subclasses warn about the
    annotations they drop for their category. Idempotent."""
    from mmdet.datasets import CocoDataset
    if getattr(CocoDataset.full_init, 'warns_unknown_categories', False):
        return
    # ``full_init`` loads the annotations exactly once per dataset, also
    # with ``lazy_init=True``.
    CocoDataset.full_init = _warning_full_init(CocoDataset.full_init)
