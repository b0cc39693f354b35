"""mmdsb's config pieces compose: the DSB piece, the long-tailed runtime
and a user's own custom_imports inherit together, also next to a complete
mmpretrain config, through 'mmdsb::' paths and through paths into the
checkout; the pure-Python (read_base) piece loads; the 'mmdsb::' scope
resolves from this checkout's (editable) install."""
import os.path as osp

import mmpretrain
import pytest
from mmengine.config import Config
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import HOOKS, MODELS

import mmdsb
from mmdsb.engine import (ClassCountsHook, DSBHook, InvalidLossHook,
                          SemanticScaleWeighter)
from mmdsb.models import DSBLinearClsHead

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE = osp.join(ROOT, 'configs', '_base_')
# The keys of mmpretrain's default runtime, owned by one runtime piece.
RUNTIME_KEYS = {
    'default_scope', 'default_hooks', 'env_cfg', 'vis_backends', 'visualizer',
    'log_level', 'load_from', 'resume', 'randomness'
}
MMPRETRAIN_PARTS = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
]
MY_IMPORTS = "custom_imports = dict(imports=['mmdsb', 'my_project.hooks'], " \
    'allow_failed_imports=False)\n'


def _write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return str(path)


def _load_piece(name):
    # A piece loaded on its own: its own keys and those it inherits.
    return Config.fromfile(osp.join(BASE, name))


@pytest.mark.parametrize('name,keys', [
    ('dsb_runtime.py', {'custom_hooks', 'dsb_weighter'}),
    ('dsb_hook.py', {'custom_hooks', 'dsb_weighter'}),
    ('dsb_hook_balanced.py', {'custom_hooks'}),
    ('default_runtime.py', RUNTIME_KEYS),
    ('lt_runtime.py', RUNTIME_KEYS),
])
def test_each_piece_owns_the_keys_its_header_names(name, keys):
    assert set(_load_piece(name).keys()) == keys


def test_runtime_pieces_add_their_default_hooks():
    default = _load_piece('default_runtime.py').default_hooks
    lt = _load_piece('lt_runtime.py').default_hooks
    assert default.invalid_loss == dict(type='InvalidLossHook',
                                        action='raise')
    assert 'class_counts' not in default
    assert lt.class_counts == dict(type='ClassCountsHook')
    # Everything else is mmpretrain's default runtime.
    stock = Config.fromfile(
        osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                 '_base_', 'default_runtime.py'))
    assert set(stock.default_hooks) == set(default) - {'invalid_loss'}


def _built_hook_types(cfg):
    types = [type(HOOKS.build(h)) for h in cfg.custom_hooks]
    types += [
        type(HOOKS.build(cfg.default_hooks[k]))
        for k in ('invalid_loss', 'class_counts') if k in cfg.default_hooks
    ]
    return types


@pytest.mark.parametrize('prefix', ['mmdsb::_base_/', f'{BASE}/'])
def test_dsb_lt_runtime_and_own_imports_inherit_together(tmp_path, prefix):
    """The composition that failed with 'Duplicate key ... custom_imports'
    when both pieces imported mmdsb."""
    _write(tmp_path, 'my_imports.py', MY_IMPORTS)
    path = _write(
        tmp_path, 'dsb_lt.py', f'_base_ = {MMPRETRAIN_PARTS!r} + [\n'
        f"    '{prefix}lt_runtime.py', '{prefix}dsb_runtime.py',\n"
        "    './my_imports.py']\n"
        "model = dict(head=dict(type='DSBLinearClsHead'))\n")
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert cfg.custom_imports.imports == ['mmdsb', 'my_project.hooks']
    assert [h.type for h in cfg.custom_hooks] == ['DSBHook']
    assert cfg.custom_hooks[0].warmup_epochs == 5
    assert cfg.custom_hooks[0].weighter.alpha == 2.0
    assert {'invalid_loss', 'class_counts'} <= set(cfg.default_hooks)
    assert cfg.default_scope == 'mmpretrain'
    assert _built_hook_types(cfg) == [
        DSBHook, InvalidLossHook, ClassCountsHook
    ]
    assert isinstance(MODELS.build(cfg.model).head, DSBLinearClsHead)


@pytest.mark.parametrize('prefix', ['mmdsb::_base_/', f'{BASE}/'])
def test_dsb_piece_next_to_a_complete_mmpretrain_config(tmp_path, prefix):
    """The stock config brings mmpretrain's runtime; the default hooks of
    mmdsb's runtimes are added in the config itself."""
    _write(tmp_path, 'my_imports.py', MY_IMPORTS)
    path = _write(
        tmp_path, 'dsb_resnet18.py',
        "_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py',\n"
        f"          '{prefix}dsb_runtime.py', './my_imports.py']\n"
        "model = dict(head=dict(type='DSBLinearClsHead'))\n"
        'default_hooks = dict(\n'
        "    invalid_loss=dict(type='InvalidLossHook', action='raise'),\n"
        "    class_counts=dict(type='ClassCountsHook'))\n")
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert cfg.custom_imports.imports == ['mmdsb', 'my_project.hooks']
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert _built_hook_types(cfg) == [
        DSBHook, InvalidLossHook, ClassCountsHook
    ]
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'ResNet_CIFAR'
    assert isinstance(model.head, DSBLinearClsHead)


def test_detection_piece_through_the_scope(tmp_path):
    pytest.importorskip('mmdet')
    path = _write(
        tmp_path, 'dsb_faster_rcnn.py',
        "_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',\n"
        "          'mmdsb::_base_/det_dsb_runtime.py']\n")
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert cfg.custom_imports.imports == ['mmdsb.det']
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_hooks[0].weighter.bank_dim == 64
    assert _built_hook_types(cfg) == [DSBHook]


def test_two_runtimes_still_clash(tmp_path):
    """The rule the headers state: one runtime among a config's bases."""
    path = _write(
        tmp_path, 'two_runtimes.py',
        "_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py',\n"
        "          'mmdsb::_base_/lt_runtime.py']\n")
    with pytest.raises(KeyError, match='default_hooks'):
        Config.fromfile(path)


def test_shipped_config_through_the_scope_builds(tmp_path):
    path = _write(tmp_path, 'demo.py',
                  "_base_ = ['mmdsb::demo/dsb_lenet5_digits-lt.py']\n")
    cfg = Config.fromfile(path)
    local = Config.fromfile(
        osp.join(ROOT, 'configs', 'demo', 'dsb_lenet5_digits-lt.py'))
    # Same config; mmengine marks what it read through 'mmdsb::'.
    assert cfg.model._scope_ == 'mmdsb'
    assert cfg.custom_hooks[0].pop('_scope_') == 'mmdsb'
    assert cfg.custom_hooks == local.custom_hooks
    # mmdsb.registry gives the scope registries that find mmpretrain's and
    # mmdsb's modules.
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'LeNet5'
    assert isinstance(model.head, DSBLinearClsHead)


def test_scope_resolves_to_this_checkout():
    from mmengine.config.config import get_installed_path
    assert MODULE2PACKAGE['mmdsb'] == 'mmdsb'
    assert get_installed_path('mmdsb') == osp.dirname(mmdsb.__file__)
    configs = osp.join(osp.dirname(mmdsb.__file__), '.mim', 'configs')
    assert osp.isdir(configs), (
        f'{configs} is missing: install the checkout with '
        '`pip install --no-deps -e .`, which links it to configs/')
    assert osp.samefile(configs, osp.join(ROOT, 'configs'))
    # Other packages resolve as before.
    assert get_installed_path('mmpretrain') == osp.dirname(
        mmpretrain.__file__)


PURE_MODEL = """
from mmpretrain.models import (CrossEntropyLoss, GlobalAveragePooling,
                               ImageClassifier, LinearClsHead, ResNet_CIFAR)

model = dict(
    type=ImageClassifier,
    backbone=dict(type=ResNet_CIFAR, depth=18, num_stages=4,
                  out_indices=(3, ), style='pytorch'),
    neck=dict(type=GlobalAveragePooling),
    head=dict(type=LinearClsHead, num_classes=10, in_channels=512,
              loss=dict(type=CrossEntropyLoss, loss_weight=1.0)))
default_hooks = dict()
"""

PURE_USER = """
from mmengine.config import read_base

with read_base():
    from mmdsb.configs._base_.dsb_runtime import *
    from {model_module} import *

from mmdsb.engine import ClassCountsHook
from mmdsb.models import DSBLinearClsHead

model.head.type = DSBLinearClsHead
custom_hooks[0].warmup_epochs = 2
default_hooks.update(class_counts=dict(type=ClassCountsHook))
"""


def test_pure_python_config_inherits_the_dsb_piece(tmp_path):
    _write(tmp_path, 'resnet18_cifar.py', PURE_MODEL)
    path = _write(tmp_path, 'dsb_resnet18.py',
                  PURE_USER.format(model_module='.resnet18_cifar'))
    cfg = Config.fromfile(path)
    hook = cfg.custom_hooks[0]
    assert (hook.type, hook.warmup_epochs) == (DSBHook, 2)
    assert hook.weighter.type is SemanticScaleWeighter
    assert hook.weighter.alpha == 2.0
    assert cfg.dsb_weighter.bank_dim == 64
    assert cfg.default_hooks.class_counts.type is ClassCountsHook
    assert isinstance(HOOKS.build(hook), DSBHook)
    assert isinstance(MODELS.build(cfg.model).head, DSBLinearClsHead)
