"""The core of mmdsb (semantic scales, the feature bank, the engine) works
with torch and mmengine alone, and the adapters depend on it, never the
other way round."""
import ast
import os.path as osp
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ('mmpretrain', 'mmcv', 'mmdet')
ADAPTERS = ('mmdsb.models', 'mmdsb.datasets', 'mmdsb.evaluation',
            'mmdsb.det')

# Installed before anything else runs: every import of mmpretrain, mmcv or
# mmdet fails, as in an environment without them.
BLOCK = textwrap.dedent(f"""
    import importlib.abc
    import sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in {FRAMEWORKS!r}:
                raise ImportError(f'{{name}} is blocked')

    sys.meta_path.insert(0, Block())
""")

CORE_USE = textwrap.dedent("""
    import types

    import torch
    import torch.nn as nn
    from mmengine.registry import HOOKS, TASK_UTILS

    import mmdsb
    import mmdsb.feature_bank
    from mmdsb.engine import (ClassCountsConsumer, ClassCountsHook,
                              ClassifierHead, DSBConsumer, DSBHook,
                              EpochAware, InvalidLossHook,
                              SemanticScaleWeighter)
    from mmdsb.semantic_scale import dsb_weights, semantic_scales

    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 8, generator=g)
    labels = torch.arange(60) % 3
    feats[labels == 0] *= 3  # the widest class
    scales = semantic_scales(feats, labels, 3)
    assert scales.shape == (3, ) and bool((scales > 0).all())
    assert int(scales.argmax()) == 0
    weights = dsb_weights(scales)
    assert int(weights.argmin()) == 0
    assert abs(float(weights.mean()) - 1) < 1e-9

    hook = HOOKS.build(dict(type='DSBHook', warmup_epochs=2,
                            weighter=dict(type='SemanticScaleWeighter',
                                          alpha=1.0)))
    assert isinstance(hook, DSBHook) and hook.warmup_epochs == 2
    assert isinstance(hook.weighter, SemanticScaleWeighter)
    assert hook.weighter.alpha == 1.0
    weighter = TASK_UTILS.build(dict(type='SemanticScaleWeighter'))
    assert isinstance(weighter, SemanticScaleWeighter)
    assert isinstance(HOOKS.build(dict(type='InvalidLossHook')),
                      InvalidLossHook)

    class Consumer(DSBConsumer, nn.Module):
        num_classes = 3

    consumer = Consumer()
    assert consumer.dsb_num_classes() == 3
    try:
        consumer.dsb_checked_weighter(3)
    except RuntimeError as error:
        assert "dict(type='DSBHook')" in str(error), error
    else:
        raise AssertionError('a consumer without DSBHook got a weighter')

    # ClassCountsHook serves its consumers through the engine's mixins and
    # checks every registered ClassifierHead.
    class Loss(ClassCountsConsumer, EpochAware, nn.Module):
        pass

    class Head(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.num_classes = num_classes
            self.loss = Loss()

    ClassifierHead.register(Head)
    logs = []
    def runner(model):
        dataset = types.SimpleNamespace(
            metainfo=dict(train_class_counts=[5, 3, 2]))
        return types.SimpleNamespace(
            model=model, epoch=1, max_epochs=4, train_loop=None,
            train_dataloader=types.SimpleNamespace(dataset=dataset),
            logger=types.SimpleNamespace(info=logs.append))

    head = Head(3)
    counts_hook = HOOKS.build(dict(type='ClassCountsHook'))
    counts_hook.before_train(runner(head))
    counts_hook.before_train_epoch(runner(head))
    assert head.loss.require_class_counts(3).tolist() == [5, 3, 2]
    assert (head.loss.epoch, head.loss.max_epochs) == (1, 4)
    assert 'for Loss' in logs[0], logs
    try:
        counts_hook.before_train(runner(Head(4)))
    except ValueError as error:
        assert 'Head has num_classes=4' in str(error), error
    else:
        raise AssertionError('a head of 4 classes took 3 class counts')

    loaded = sorted(name for name in sys.modules
                    if name.split('.')[0] in {frameworks!r}
                    or name.startswith({adapters!r}))
    assert not loaded, loaded
    print('core ok')
""").format(frameworks=FRAMEWORKS, adapters=ADAPTERS)


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_core_works_without_mmpretrain_mmcv_and_mmdet():
    result = run_python(BLOCK + CORE_USE)
    assert result.returncode == 0, result.stderr
    assert 'core ok' in result.stdout


def test_import_mmdsb_registers_the_mmpretrain_adapters():
    # In a fresh interpreter, so that nothing else imported mmdsb.models.
    result = run_python(textwrap.dedent("""
        import mmdsb
        from mmengine.registry import HOOKS
        from mmpretrain.registry import DATASETS, METRICS, MODELS

        for name in ('DSBLinearClsHead', 'DSBCosineClsHead',
                     'DSBSoftTripleHead', 'KPSLoss', 'BNInception'):
            assert name in MODELS.module_dict, name
        assert 'DigitsLT' in DATASETS.module_dict
        assert 'ShotAccuracy' in METRICS.module_dict
        for name in ('DSBHook', 'ClassCountsHook', 'InvalidLossHook'):
            assert name in HOOKS.module_dict, name
        print('adapters ok')
    """))
    assert result.returncode == 0, result.stderr
    assert 'adapters ok' in result.stdout


# ------------------------------------------------------- import arrows
def _imports(path: Path):
    """``(line, module)`` of every import in a file, nested ones included,
    relative imports resolved against the file's package."""
    # The package of mmdsb/engine/dsb_hook.py and of
    # mmdsb/engine/__init__.py is mmdsb.engine.
    package = list(path.relative_to(ROOT).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = '.'.join(base + ([node.module]
                                          if node.module else []))
            else:
                target = node.module
            # 'from . import models' imports mmdsb.models.
            for alias in node.names:
                yield node.lineno, f'{target}.{alias.name}'


def _arrows(files, forbidden):
    found = set()
    for path in files:
        for line, target in _imports(path):
            if any(target == f or target.startswith(f + '.')
                   for f in forbidden):
                found.add(f'{path.relative_to(ROOT)}:{line} {target}')
    return found


def _python_files(*names):
    files = []
    for name in names:
        path = ROOT / name
        files += sorted(path.rglob('*.py')) if path.is_dir() else [path]
    return files


# mmdsb/engine/epoch_padding.py recognises mmpretrain's RepeatAugSampler
# where mmpretrain is installed: an optional import, guarded by
# ImportError, that the core does without.
OPTIONAL = {'mmpretrain.datasets.samplers.RepeatAugSampler'}


def test_the_core_imports_no_framework_and_no_adapter():
    core = _python_files('mmdsb/engine', 'mmdsb/semantic_scale.py',
                         'mmdsb/feature_bank.py', 'mmdsb/guards.py',
                         'mmdsb/compat.py', 'mmdsb/config_scope.py',
                         'mmdsb/dataset_checks.py')
    assert any(osp.basename(p) == 'dsb_hook.py' for p in core)
    found = _arrows(core, FRAMEWORKS + ADAPTERS)
    allowed = {a for a in found if a.split()[-1] in OPTIONAL}
    assert found - allowed == set()


def test_the_datasets_do_not_import_the_models():
    found = _arrows(_python_files('mmdsb/datasets'), ('mmdsb.models', ))
    assert found == set()


def test_the_scan_sees_relative_imports():
    # mmdsb/models/heads/dsb_head.py imports the engine relatively.
    head = ROOT / 'mmdsb/models/heads/dsb_head.py'
    assert _arrows([head], ('mmdsb.engine', ))
    assert _arrows([head], ('mmpretrain', ))
