"""The interface between DSBHook and the modules that use its weights.

Framework-neutral (no mmpretrain or mmdet import): a classification head, a
detection box head or any other module becomes a DSB consumer by inheriting
:class:`DSBConsumer`. :class:`DSBHook` finds every consumer in the model
and attaches to each its own :class:`SemanticScaleWeighter` (its own bank,
sized by the consumer's :meth:`DSBConsumer.dsb_samples_per_epoch`), since
consumers such as the stages of a cascade head have their own feature
spaces.
"""
from typing import Optional

from .sample_keys import DatasetIndexKeys, SampleKeys

__all__ = ['DSBConsumer']


class DSBConsumer:
    """Mixin for modules that feed the DSB feature bank and read its weights.

    A consumer calls ``self.dsb_weighter.observe(feats, labels,
    batch_ids)`` once per training iteration and, when that returns class
    weights, applies them to its loss. ``batch_ids`` (the position in the
    rank's batch of the sample each row comes from) lets the weighter keep
    the sampler's padding out of a FIFO bank and find each row's slot in a
    per-sample bank (with ``instance_ids`` where a sample has several
    rows).
    """

    # Set by DSBHook; a plain attribute, not a module or buffer, so that
    # state dicts and buffer syncing never touch the pool.
    dsb_weighter = None

    def dsb_num_classes(self) -> Optional[int]:
        """Number of classes the bank must hold (``None``: not known)."""
        return getattr(self, 'num_classes', None)

    def dsb_samples_per_epoch(self, dataset) -> Optional[int]:
        """Bank entries one epoch of ``dataset`` produces, when that is not
        the number of distinct samples (e.g. one entry per object instance
        in detection); ``None`` keeps the hook's default."""
        return None

    def dsb_sample_keys(self, dataset) -> SampleKeys:
        """The key table of a per-sample bank (``bank_policy='per_sample'``
        in DSBHook): by default one slot per distinct sample of
        ``dataset``, keyed by ``sample_idx``. A consumer with several bank
        entries per sample (detection: instances) returns its own."""
        return DatasetIndexKeys(dataset)

    def dsb_checked_weighter(self, num_classes: int):
        """The weighter DSBHook attached, checked against the consumer's
        ``num_classes``; a clear error where the hook is missing."""
        name = type(self).__name__
        if self.dsb_weighter is None:
            raise RuntimeError(
                f'{name} needs the DSB feature bank: add '
                "dict(type='DSBHook') to custom_hooks of the config")
        if self.dsb_weighter.num_classes != num_classes:
            raise ValueError(
                f'{name} has num_classes={num_classes} but its DSB '
                f'feature bank has {self.dsb_weighter.num_classes}')
        return self.dsb_weighter
