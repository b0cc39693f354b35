"""Every ready classification config under configs/ builds and trains
through the Runner, and reports the metrics that its predictions give."""
import glob
import os
import os.path as osp
from collections.abc import Sequence

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmdsb  # noqa: F401
from fixtures import (write_cifar_pickles, write_glt_annotations,
                      write_image_list, write_inat_json)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Detection configs (mmdet) are tested by test_det_configs.py and the
# metric-learning configs by test_dml_configs.py.
DET_FOLDERS = ('coco', 'det-demo', 'lvis', 'metric-learning')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p and
    osp.relpath(p, osp.join(ROOT, 'configs')).split(os.sep)[0] not in
    DET_FOLDERS)


def point_at_fixture(cfg, tmp_path):
    """Replace split lists by small real-format ones (labels 0..4 and 999,
    so that 1000-class heads and counts line up)."""
    data = tmp_path / 'data'
    labels = [0, 1, 2, 3, 4, 999]
    write_image_list(str(data), [3, 2, 1, 1, 2, 3], labels=labels,
                     name='train.txt')
    write_image_list(str(data), [1] * 6, labels=labels, name='test.txt',
                     seed=1)
    for loader, ann in (('train_dataloader', 'train.txt'),
                        ('val_dataloader', 'test.txt'),
                        ('test_dataloader', 'test.txt')):
        cfg[loader].dataset.update(data_root=str(data), ann_file=ann)
        cfg[loader].update(batch_size=6, num_workers=0,
                           persistent_workers=False)
    for metric in cfg.val_evaluator:
        if metric.get('train_ann_file'):
            metric.train_ann_file = str(data / 'train.txt')
    cfg.test_evaluator = cfg.val_evaluator
    if 'class_counts' in cfg.default_hooks:
        # The fixture holds 6 of the 1000 classes; count-based losses need
        # a count > 0 for every class, so the others count as 1.
        counts = [1] * 1000
        for label, n in zip(labels, [3, 2, 1, 1, 2, 3]):
            counts[label] = n
        cfg.train_dataloader.dataset.metainfo = dict(
            train_class_counts=counts)


def point_at_cifar_fixture(cfg, tmp_path):
    """CIFAR pickles with 1 test image per class and, for training, 4
    images per CIFAR-10 class or 3 per CIFAR-100 class; rho 2 keeps every
    class (counts 4 or 3 down to 2 or 1)."""
    num_classes = 10 if cfg.train_dataloader.dataset.type == 'CIFAR10LT' \
        else 100
    # 3 a class: the CIFAR ResNet-50 trains 2 epochs of about 160 images.
    per_class = 4 if num_classes == 10 else 3
    root = write_cifar_pickles(str(tmp_path / 'cifar'), num_classes,
                               per_class, 1)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.update(data_root=root, imbalance_ratio=2)
        # Batches of 64: a CIFAR-100 epoch in 3 steps (the step's fixed
        # cost, not its images, dominates on a CPU).
        cfg[loader].update(batch_size=64, num_workers=0,
                           persistent_workers=False)


def _loaders(cfg, batch_size, **dataset):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.update(**dataset)
        cfg[loader].update(batch_size=batch_size, num_workers=0,
                           persistent_workers=False)


def _counts_at_least_one(cfg, num_classes, labels, counts):
    """Count-based losses need a count > 0 for every class; classes the
    fixture lacks count as 1."""
    full = [1] * num_classes
    for label, n in zip(labels, counts):
        full[label] = n
    cfg.train_dataloader.dataset.metainfo = dict(
        train_class_counts=_ShortRepr(full))


class _ShortRepr(Sequence):
    """Counts that print as one short expression: the Runner formats its
    config with yapf for the log and the dumped config (six times), which
    takes seconds for a list of 8,142 numbers (a list or tuple subclass
    would still be printed item by item)."""

    def __init__(self, counts):
        self.counts = list(counts)

    def __getitem__(self, i):
        return self.counts[i]

    def __len__(self):
        return len(self.counts)

    def __repr__(self):
        return f'counts_of_{len(self)}_classes()'

    __str__ = __repr__


def point_at_inat_fixture(cfg, tmp_path):
    """iNaturalist-2018 JSON files over labels 0..4 and 8141."""
    labels, counts = [0, 1, 2, 3, 4, 8141], [3, 2, 1, 1, 2, 3]
    root = write_inat_json(str(tmp_path / 'inat'), counts, [1] * 6,
                           labels=labels)
    _loaders(cfg, 6, data_root=root)
    _counts_at_least_one(cfg, 8142, labels, counts)


def point_at_imagenet_fixture(cfg, tmp_path):
    """mmpretrain's ImageNet layout (``train/``, ``val/``, ``meta/*.txt``)
    with labels 0..4 and 999."""
    data = tmp_path / 'imagenet'
    (data / 'meta').mkdir(parents=True)
    labels, counts = [0, 1, 2, 3, 4, 999], [3, 2, 1, 1, 2, 3]
    for split, n in (('train', counts), ('val', [1] * 6)):
        ann = write_image_list(str(data / split), n, labels=labels,
                               name=f'{split}.txt', seed=len(split))
        os.replace(ann, data / 'meta' / f'{split}.txt')
    _loaders(cfg, 6, data_root=str(data))
    _counts_at_least_one(cfg, 1000, labels, counts)
    for metric in cfg.val_evaluator:
        if metric.get('train_ann_file'):
            metric.train_ann_file = str(data / 'meta' / 'train.txt')
    cfg.test_evaluator = cfg.val_evaluator


def point_at_glt_fixture(cfg, tmp_path):
    """The MSCOCO-GLT release layout over the 29 classes; Train-GLT counts
    from 4 down to 1 image, Train-CBL 1 image a class."""
    root = write_glt_annotations(str(tmp_path / 'glt'),
                                 [4, 3, 2] + [1] * 26, [1] * 29,
                                 test_per_class=1, size=40)
    _loaders(cfg, 16, data_root=root)


def shrink_images(cfg, size=64):
    """Crop to ``size`` px instead of 224 / 112: a test runs the config's
    model, pipeline and evaluator once, not its accuracy, and a 224-px
    ResNeXt step takes seconds on a CPU. Networks end in global or
    adaptive pooling, so they take any input size. Transforms nested in
    others (``MultiView``'s views) are shrunk too."""

    def shrink(transforms):
        for t in transforms:
            if isinstance(t, (list, tuple)):
                shrink(t)
            elif t.type == 'RandomResizedCrop' and t.scale > size:
                t.scale = size
            elif t.type == 'ResizeEdge' and t.scale > size:
                t.scale = size * 8 // 7
            elif t.type == 'CenterCrop' and t.crop_size > size:
                t.crop_size = size
            elif 'transforms' in t:
                shrink(t.transforms)

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        shrink(cfg[loader].dataset.get('pipeline', []))


def metrics_by_hand(runner) -> dict:
    """Image accuracy, class-averaged accuracy and macro precision (over
    the classes with test images; 0 for a class never predicted) of the
    trained model's predictions on the test set, without the evaluators."""
    model = runner.model.eval()
    preds, gts = [], []
    with torch.no_grad():
        for data_batch in runner.test_dataloader:
            for sample in model.test_step(data_batch):
                preds.append(int(sample.pred_label))
                gts.append(int(sample.gt_label))
    pred, gt = torch.tensor(preds), torch.tensor(gts)
    classes = gt.unique().tolist()
    class_acc = [(pred[gt == c] == c).double().mean() for c in classes]
    precision = [((pred == c) & (gt == c)).sum() / (pred == c).sum()
                 if (pred == c).any() else torch.tensor(0.)
                 for c in classes]
    return dict(
        accuracy=100 * (pred == gt).double().mean().item(),
        class_accuracy=100 * torch.stack(class_acc).mean().item(),
        precision=100 * torch.stack(precision).double().mean().item())


FIXTURES = {
    'INaturalist2018': point_at_inat_fixture,
    'ImageNet': point_at_imagenet_fixture,
    'MSCOCOGLT': point_at_glt_fixture,
}


# Slow: about a hundred configs, each building its full-size model.
@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_trains_and_evaluates(path, tmp_path):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / 'work')
    if cfg.train_dataloader.dataset.type == 'CustomDataset':
        point_at_fixture(cfg, tmp_path)
    elif cfg.train_dataloader.dataset.type in ('CIFAR10LT', 'CIFAR100LT'):
        point_at_cifar_fixture(cfg, tmp_path)
    elif cfg.train_dataloader.dataset.type in FIXTURES:
        FIXTURES[cfg.train_dataloader.dataset.type](cfg, tmp_path)
    shrink_images(cfg)
    # Stage-2 configs start from a stage-1 checkpoint (tested on its own).
    cfg.load_from = None
    if (cfg.model.backbone.get('init_cfg') or {}).get('type') == 'Pretrained':
        cfg.model.backbone.init_cfg = None
    for hook in cfg.get('custom_hooks', []):
        if hook.type == 'DSBHook':
            hook.warmup_epochs = 1  # reach the re-weighting stage quickly
    cfg.train_cfg.update(max_epochs=2, val_interval=2)
    cfg.param_scheduler = []
    # No checkpoint: a full-size model's is hundreds of MB, and a hundred of
    # them fill a CI disk (saving and resuming are tested on small models).
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    if cfg.model.type == 'DiVEClassifier':
        # A freshly built teacher stands in for DiVE's trained one.
        cfg.model.teacher_checkpoint = str(tmp_path / 'teacher.pth')
        torch.save(MODELS.build(cfg.model).teacher.state_dict(),
                   cfg.model.teacher_checkpoint)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    hand = metrics_by_hand(runner)
    checked = 0
    for key, value in (('accuracy/top1', 'accuracy'),
                       ('shot/overall', 'class_accuracy'),
                       ('shot/overall_img', 'accuracy')):
        if key in metrics:
            assert metrics[key] == pytest.approx(hand[value], abs=1e-4), key
            checked += 1
    if cfg.test_dataloader.dataset.type == 'MSCOCOGLT':
        # GLT configs test the GLT protocol, ALT configs the ALT one.
        protocol = 'alt' if path.endswith('-alt.py') else 'glt'
        assert metrics[f'{protocol}/accuracy'] == pytest.approx(
            hand['accuracy'], abs=1e-4)
        assert metrics[f'{protocol}/precision'] == pytest.approx(
            hand['precision'], abs=1e-4)
        checked += 1
    assert checked, sorted(metrics)
    # A NaN or infinite loss stops every shipped config.
    assert cfg.default_hooks.invalid_loss == dict(type='InvalidLossHook',
                                                  action='raise')
    for hook in cfg.get('custom_hooks', []):
        weighter = runner.model.head.dsb_weighter
        assert weighter.stage == (3 if hook.get('reweight', True) else 2)
        assert weighter.class_weights().mean().item() == pytest.approx(1.0)
