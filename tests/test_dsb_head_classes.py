"""Every DSB head is a class written in the source, registered under its
name, and mmpretrain has no head that fits DSBHeadMixin without one."""
import inspect

import pytest
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS

import mmdsb.models.heads as heads
from mmdsb.models.heads import DSBHeadMixin

DSB_NAMES = sorted(name for name in heads.__all__
                   if name.startswith('DSB') and name != 'DSBHeadMixin')
DSB_HEADS = [n for n in DSB_NAMES if issubclass(getattr(heads, n),
                                                DSBHeadMixin)]
# Heads whose loss is not ClsHead's apply the DSB weights in their own
# loss (RIDE's per-expert terms).
OWN_LOSS_HEADS = [n for n in DSB_NAMES if n not in DSB_HEADS]

# mmpretrain raises in DeiTClsHead's training forward (two pre-logit
# tokens); it cannot be trained, with DSB or without.
NOT_TRAINABLE = {'DeiTClsHead'}


def test_the_dsb_heads():
    assert DSB_HEADS == [
        'DSBCosineClsHead', 'DSBFBLClsHead', 'DSBIFLLinearClsHead',
        'DSBLWSLinearClsHead', 'DSBLeViTClsHead', 'DSBLinearClsHead',
        'DSBMBJLinearClsHead', 'DSBPaCoHead', 'DSBSoftTripleHead',
        'DSBStackedLinearClsHead', 'DSBVigClsHead',
        'DSBVisionTransformerClsHead'
    ]
    assert OWN_LOSS_HEADS == ['DSBRIDEHead']


@pytest.mark.parametrize('name', OWN_LOSS_HEADS)
def test_a_dsb_head_with_its_own_loss_is_a_registered_consumer(name):
    cls = getattr(heads, name)
    assert MODELS.get(name) is cls
    plain = cls.__bases__[0]
    assert name == f'DSB{plain.__name__}' and MODELS.get(plain.__name__)
    source = inspect.getsource(inspect.getmodule(cls))
    assert f'class {name}({plain.__name__}):' in source
    assert cls.loss is not plain.loss


@pytest.mark.parametrize('name', DSB_HEADS)
def test_a_dsb_head_is_a_written_registered_class(name):
    cls = getattr(heads, name)
    assert MODELS.get(name) is cls
    assert cls.__bases__[0] is DSBHeadMixin and len(cls.__bases__) == 2
    plain = cls.__bases__[1]
    assert name == f'DSB{plain.__name__}'
    assert MODELS.get(plain.__name__) is plain
    # Written in its module, with a docstring of its own.
    source = inspect.getsource(inspect.getmodule(cls))
    assert f'class {name}(DSBHeadMixin, {plain.__name__}):' in source
    assert cls.__doc__ and plain.__name__ in cls.__doc__
    # DSBHeadMixin replaces ClsHead's loss, so the head must keep it (its
    # _get_loss may extend ClsHead's, as the embedding heads' do).
    assert issubclass(plain, ClsHead) and plain.loss is ClsHead.loss


def test_every_fitting_mmpretrain_head_has_a_dsb_form():
    fitting = {
        name
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, ClsHead)
        and cls is not ClsHead and not issubclass(cls, DSBHeadMixin)
        and cls.__module__.startswith('mmpretrain.')
        and cls.loss is ClsHead.loss and cls._get_loss is ClsHead._get_loss
    } - NOT_TRAINABLE
    wrapped_heads = {getattr(heads, n).__bases__[1].__name__
                     for n in DSB_HEADS}
    assert fitting <= wrapped_heads
