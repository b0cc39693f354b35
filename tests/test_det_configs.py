"""Every detection config under configs/ builds, trains one iteration and
evaluates through mmdet's Runner on the LVIS-format digit fixture."""
import glob
import importlib.util
import math
import os.path as osp
from collections import Counter

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmdsb.det  # noqa: F401
from mmdsb.det.datasets import write_digits_lvis
from mmdsb.engine import DSBHook

# Slow: every detection config trains and evaluates.
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_FOLDERS = ('coco', 'det-demo', 'lvis')
CONFIGS = sorted(p for folder in DET_FOLDERS
                 for p in glob.glob(osp.join(ROOT, 'configs', folder, '*.py')))
TRAIN_IMAGES = 2  # one iteration of batch 2


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return write_digits_lvis(
        str(tmp_path_factory.mktemp('digits_lvis')), num_train=12,
        num_val=3)


def inner(dataset):
    """The dataset under a repeat-factor (ClassBalancedDataset) wrapper."""
    return dataset.dataset if 'dataset' in dataset else dataset


def small_scales(pipeline):
    for t in pipeline:
        if 'scale' in t:
            t.scale = (64, 64)
        if 'scales' in t:
            t.scales = [(64, 64)]


def point_at_digits(cfg, digits):
    """Train on the first images of the fixture, evaluate on its val set,
    with the dataset and metric types the config names (LVIS or COCO)."""
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        cfg[loader].update(batch_size=2, num_workers=0,
                           persistent_workers=False)
        dataset = inner(cfg[loader].dataset)
        dataset.update(
            data_root=digits['data_root'],
            ann_file=f'annotations/lvis_v1_{split}.json',
            metainfo=dict(classes=digits['classes']))
        if dataset.type == 'CocoDataset':
            dataset.data_prefix = dict(img=f'{split}2017/')
        if split == 'train':
            dataset.indices = TRAIN_IMAGES
        small_scales(dataset.pipeline)
    cfg.train_dataloader.pop('batch_sampler', None)
    cfg.val_evaluator.ann_file = digits['val_ann_file']
    cfg.test_evaluator = cfg.val_evaluator
    # Evaluate once, in runner.test(), not also at the end of training.
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None


def shrink_model(cfg, num_classes=10):
    """ResNet-18 without pretrained weights, 10 classes, few RoIs."""
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    if model.neck.in_channels == [256, 512, 1024, 2048]:
        model.neck.in_channels = [64, 128, 256, 512]
    heads = [model.get('bbox_head')]
    if 'roi_head' in model:
        heads = [model.roi_head.bbox_head, model.roi_head.get('mask_head')]
        model.train_cfg.rcnn.sampler.num = 16
        model.train_cfg.rpn_proposal.max_per_img = 50
        model.test_cfg.rpn.max_per_img = 50
    for head in heads:
        if head is not None:
            head.num_classes = num_classes
            if 'num_classes' in head.get('loss_cls', {}):
                head.loss_cls.num_classes = num_classes
    # Few detections, but with any score, so that an untrained model
    # still has some to evaluate.
    model.test_cfg.get('rcnn', model.test_cfg).update(
        max_per_img=20, score_thr=0.0)


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_det_config_trains_and_evaluates(path, tmp_path, digits):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / 'work')
    if cfg.test_evaluator.type == 'LVISMetric':
        # The lvis package needs mmdsb.det's patch under numpy >= 1.24.
        assert 'mmdsb.det' in cfg.custom_imports.imports
    point_at_digits(cfg, digits)
    shrink_model(cfg)
    # One iteration, then one evaluation (runner.test), no checkpoint.
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, save_last=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    metrics = runner.test()
    key = ('coco/bbox_mAP' if cfg.test_evaluator.type == 'CocoMetric' else
           'lvis/bbox_AP')
    assert 0 <= metrics[key] <= 1 or metrics[key] == -1
    # A NaN or infinite loss stops every shipped config.
    assert cfg.default_hooks.invalid_loss == dict(type='InvalidLossHook',
                                                  action='raise')
    assert any(type(h).__name__ == 'InvalidLossHook' for h in runner.hooks)

    hooks = [h for h in runner.hooks if isinstance(h, DSBHook)]
    assert len(hooks) == len(cfg.get('custom_hooks', []))
    if not hooks:
        return
    head = (runner.model.roi_head.bbox_head
            if hasattr(runner.model, 'roi_head') else runner.model.bbox_head)
    bank = head.dsb_weighter.bank
    _, labels = bank.ordered()
    # The fixture's own annotations of the images trained on.
    train = runner.train_dataloader.dataset
    truth = Counter(
        inst['bbox_label'] for i in range(TRAIN_IMAGES)
        for inst in train.get_data_info(i)['instances'])
    # At most one entry per instance (those whose positive RoIs or anchors
    # were sampled), with the instance's label.
    assert 0 < len(labels) and not Counter(labels.tolist()) - truth


def test_demo_det_prints_both_twins(tmp_path, capsys):
    """tools/demo_det.py end to end, one epoch on a small digit set."""
    spec = importlib.util.spec_from_file_location(
        'demo_det', osp.join(ROOT, 'tools', 'demo_det.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.main([
        '--work-dir',
        str(tmp_path), '--epochs', '1', '--num-train', '16', '--num-val',
        '4'
    ])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:]
            for line in out.splitlines()
            if line.startswith(('CE ', 'DSB-CE '))}
    assert set(rows) == {'CE', 'DSB-CE'}
    for values in rows.values():
        assert 0 <= float(values[0]) <= 100  # AP
        # APr, APc, APf: '-' where the small set has no class of a group.
        assert all(v == '-' or 0 <= float(v) <= 100 for v in values[1:4])
    # The per-class table lists the ten digits with their LVIS groups.
    table = out.split('DSB weight')[1].splitlines()[2:12]
    assert [line.split()[0] for line in table] == list('0123456789')
    assert {line.split()[1] for line in table} <= {'r', 'c', 'f'}
