"""Setting up DSBHook's banks: one per DSB consumer of the model, sized
and restored from checkpoints."""
from typing import Dict, Optional

import torch
from mmengine.model import is_model_wrapper

from ..dataset_checks import describe_dataset
from ..sample_bank import SampleBank
from .consumer import DSBConsumer
from .weighter import SemanticScaleWeighter

__all__ = [
    'find_consumers', 'distinct_samples', 'consumer_num_classes',
    'bank_capacity', 'restore_banks'
]

# The bank_policy of DSBHook, by whether the bank is a SampleBank.
POLICY_NAMES = {False: 'fifo', True: 'per_sample'}


def find_consumers(model) -> Dict[str, DSBConsumer]:
    """The DSB consumers of ``model`` by module name (at least one)."""
    if is_model_wrapper(model):
        model = model.module
    consumers = {
        name or type(m).__name__: m
        for name, m in model.named_modules() if isinstance(m, DSBConsumer)
    }
    if not consumers:
        raise RuntimeError(
            'DSBHook found no DSB head in the model: use a DSB head, '
            "e.g. head=dict(type='DSBLinearClsHead', ...)")
    return consumers


def distinct_samples(dataset) -> int:
    """Distinct samples in one epoch: the training set's length."""
    n = len(dataset)
    if n == 0:
        raise ValueError(
            f'the training set ({describe_dataset(dataset)}) is empty: '
            'check data_root, ann_file, filter_cfg and indices of '
            'train_dataloader.dataset; DSB needs at least one sample')
    return n


def consumer_num_classes(name: str, consumer: DSBConsumer,
                         configured: Optional[int]) -> int:
    """The consumer's number of classes, checked against DSBHook's
    ``num_classes`` (which stands in where the consumer has none)."""
    num_classes = consumer.dsb_num_classes()
    what = f'{type(consumer).__name__} ({name})'
    if num_classes is None:
        num_classes = configured
    elif configured is not None and num_classes != configured:
        raise ValueError(f'DSBHook has num_classes={configured} but {what} '
                         f'has num_classes={num_classes}')
    if num_classes is None:
        raise ValueError(f'{what} has no num_classes attribute: set '
                         'num_classes in DSBHook')
    return num_classes


def consumer_device(consumer: DSBConsumer) -> torch.device:
    """Where the consumer's bank lives: with its first parameter, else its
    first buffer (a consumer without weights, such as one bank of a
    multi-expert head, keeps an empty buffer that follows ``.to()``), else
    the CPU."""
    for tensor in (*consumer.parameters(), *consumer.buffers()):
        return tensor.device
    return torch.device('cpu')


def bank_capacity(consumer: DSBConsumer, dataset) -> int:
    """What the consumer says one epoch of ``dataset`` gives, else the
    distinct samples of one epoch."""
    per_epoch = consumer.dsb_samples_per_epoch(dataset)
    if per_epoch is None:
        return distinct_samples(dataset)
    if int(per_epoch) < 1:
        raise ValueError(
            f'{type(consumer).__name__} finds {per_epoch} bank entries in '
            'one epoch of the training set; DSB needs at least one (or set '
            'capacity in DSBHook)')
    return int(per_epoch)


def restore_banks(weighters: Dict[str, SemanticScaleWeighter],
                  checkpoint: dict, logger) -> None:
    """Load the pools saved in ``checkpoint`` (``'dsb_bank'`` for a single
    consumer, ``'dsb_banks'`` by name for several); a consumer without one
    fills its bank again, and the log says so."""
    banks = checkpoint.get('dsb_banks')
    if banks is None and 'dsb_bank' in checkpoint:
        if len(weighters) == 1:
            banks = {next(iter(weighters)): checkpoint['dsb_bank']}
        else:
            logger.warning(
                "DSB: the checkpoint holds one feature bank ('dsb_bank') "
                f'but the model has {len(weighters)} DSB consumers; which '
                'one it belongs to is unknown')
    for name, weighter in weighters.items():
        state = (banks or {}).get(name)
        if state is None:
            logger.warning(
                f'DSB [{name}]: the checkpoint has no feature bank (saved '
                'by a run without DSB, or before DSB was added); the bank '
                'fills again (stage 1) before re-weighting')
            continue
        saved, used = (POLICY_NAMES['keys' in state['bank']],
                       POLICY_NAMES[isinstance(weighter.bank, SampleBank)])
        if saved != used:
            logger.warning(
                f'DSB [{name}]: the checkpoint holds a {saved} bank but '
                f'this run uses bank_policy={used!r}; the bank fills again '
                '(stage 1) before re-weighting')
            continue
        weighter.load_state_dict(state)
        logger.info(f'DSB [{name}]: restored {len(weighter.bank)} samples '
                    'of the feature bank from the checkpoint')
