"""DSB detectors trained through mmdet's Runner on the long-tailed LVIS
digit fixture: stages, bank contents, every supported form, resume."""
import glob
import json
import logging
import math
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb.det  # noqa: F401
from det_models import (bbox_head, cascade_rcnn, dsb_hook, faster_rcnn,
                        mask_rcnn, retinanet, runner_cfg)
from mmdsb.det.datasets import write_digits_lvis
from mmdsb.engine.consumer import DSBConsumer

# Slow: Faster R-CNN and RetinaNet trained through the Runner.
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits_lvis')
    return write_digits_lvis(str(root), num_train=8, num_val=2, seed=1)


def annotation_counts(fixture) -> list:
    with open(fixture['train_ann_file']) as f:
        anns = json.load(f)['annotations']
    counts = [0] * len(fixture['classes'])
    for ann in anns:
        counts[ann['category_id'] - 1] += 1
    return counts


def dsb_heads(runner):
    return [m for m in runner.model.modules() if isinstance(m, DSBConsumer)]


class BankRecorder(Hook):
    """Copies the bank of the first DSB head at the start and end of each
    training epoch."""
    priority = 'LOWEST'

    def __init__(self):
        self.start, self.end = {}, {}

    def _copy(self, runner):
        feats, labels = dsb_heads(runner)[0].dsb_weighter.bank.ordered()
        return feats.clone(), labels.clone()

    def before_train_epoch(self, runner):
        self.start[runner.epoch] = self._copy(runner)

    def after_train_epoch(self, runner):
        self.end[runner.epoch] = self._copy(runner)


def train(model, fixture, work_dir, **kwargs):
    runner = Runner(**runner_cfg(model, fixture, str(work_dir), **kwargs))
    runner.train()
    return runner


def test_faster_rcnn_reaches_reweighting_with_one_entry_per_instance(
        digits, tmp_path):
    runner = train(faster_rcnn(), digits, tmp_path, max_epochs=2,
                   log_level='INFO')
    head, = dsb_heads(runner)
    weighter = head.dsb_weighter
    assert weighter.stage == 3
    counts = annotation_counts(digits)
    # One epoch of ground-truth instances, each entering once per epoch.
    assert weighter.bank.capacity == sum(counts)
    feats, labels = weighter.bank.ordered()
    assert len(weighter.bank) == sum(counts)
    assert torch.bincount(labels, minlength=10).tolist() == counts
    assert feats.shape[1] == 16 and torch.isfinite(feats).all()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    # The log states the bank's size and memory: float32 features, int64
    # labels, float64 per-class count, sum, scatter and derived caches.
    n, d, c = sum(counts), 16, 10
    mib = (n * d * 4 + n * 8 + c * 8 * (3 + 2 * d + d * d)) / 2**20
    log, = glob.glob(osp.join(runner.log_dir, '*.log'))
    with open(log) as f:
        assert (f'bank of {n} samples x {d} dims for 10 classes on cpu, '
                f'{mib:.3g} MiB') in f.read()


def test_before_reweighting_training_is_mmdets(digits, tmp_path):
    # Stage 1 (the first epoch) of the DSB detector and mmdet's plain one,
    # from the same seed, end with the same weights.
    dsb = train(faster_rcnn(), digits, tmp_path / 'dsb', max_epochs=1)
    assert dsb_heads(dsb)[0].dsb_weighter.stage == 1
    plain = train(faster_rcnn(bbox_head('Shared2FCBBoxHead')), digits,
                  tmp_path / 'plain', max_epochs=1, custom_hooks=[])
    ours, theirs = dsb.model.state_dict(), plain.model.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


FORMS = {
    'mask_rcnn': (mask_rcnn, dict(with_mask=True)),
    'seesaw': (lambda: faster_rcnn(bbox_head(loss_cls=dict(
        type='SeesawLoss', p=0.8, q=2.0, num_classes=10))), {}),
    'eqlv2': (lambda: faster_rcnn(bbox_head(loss_cls=dict(
        type='EqualizationLossV2', num_classes=10))), {}),
    'retinanet': (retinanet, {}),
    'cascade_rcnn': (cascade_rcnn, {}),
}


@pytest.mark.parametrize('form', sorted(FORMS))
def test_dsb_forms_train_into_reweighting(form, digits, tmp_path):
    build, kwargs = FORMS[form]
    runner = train(build(), digits, tmp_path, max_epochs=2, **kwargs)
    heads = dsb_heads(runner)
    counts = annotation_counts(digits)
    for head in heads:
        assert head.dsb_weighter.stage == 3
        labels = head.dsb_weighter.bank.ordered()[1]
        assert torch.bincount(labels, minlength=10).tolist() == counts
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    if form == 'cascade_rcnn':
        # Each stage keeps its own bank: three feature spaces never mix.
        assert len(heads) == 3
        assert len({id(h.dsb_weighter.bank) for h in heads}) == 3
        first = heads[0].dsb_weighter.bank.ordered()[0]
        assert not torch.equal(first, heads[1].dsb_weighter.bank.ordered()[0])


def test_resume_restores_the_bank_exactly(digits, tmp_path):
    recorder = BankRecorder()
    train(faster_rcnn(), digits, tmp_path / 'first', max_epochs=2,
          checkpoint=True, custom_hooks=[
              dsb_hook(), recorder])
    resumed = BankRecorder()
    runner = train(faster_rcnn(), digits, tmp_path / 'resumed',
                   max_epochs=2, custom_hooks=[
                       dsb_hook(), resumed],
                   load_from=str(tmp_path / 'first' / 'epoch_1.pth'),
                   resume=True)
    assert list(resumed.start) == [1]
    for saved, restored in zip(recorder.end[0], resumed.start[1]):
        assert saved.numel() > 0
        assert torch.equal(saved, restored)
    assert dsb_heads(runner)[0].dsb_weighter.stage == 3


def test_clear_errors_for_hook_settings_that_do_not_fit(digits, tmp_path):
    hook = dict(dsb_hook(), num_classes=5)
    with pytest.raises(ValueError, match='DSBHook has num_classes=5 but '
                       'DSBShared2FCBBoxHead'):
        train(faster_rcnn(), digits, tmp_path / 'classes', hook=hook)
    hook = dict(dsb_hook(), capacity=1)
    with pytest.raises(ValueError, match='instances in one iteration but '
                       'the DSB feature bank holds only 1'):
        train(faster_rcnn(), digits, tmp_path / 'capacity', hook=hook)


def test_epoch_length_under_the_aspect_ratio_batch_sampler(digits, tmp_path):
    # mmdet's configs batch through AspectRatioBatchSampler, which leaves
    # the loader's batch_size unset: 8 images in batches of 2 are still an
    # epoch of 4 iterations, and re-weighting starts at iteration 5.
    runner = train(faster_rcnn(), digits, tmp_path,
                   batch_sampler=dict(type='AspectRatioBatchSampler'),
                   train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
                   log_level='INFO',
                   # Runners built within the same second otherwise share
                   # one logger (named by the timestamp), with the first
                   # one's level and file.
                   experiment_name=f'epoch_length_{tmp_path.name}')
    hook, = [h for h in runner.hooks if type(h).__name__ == 'DSBHook']
    assert hook.iters_per_epoch == 4
    log_file, = [h.baseFilename for h in runner.logger.handlers
                 if isinstance(h, logging.FileHandler)]
    with open(log_file) as f:
        assert 're-weighting starts when a bank is full and from iteration ' \
            '5' in f.read()


def instance_labels_by_hand(fixture, dataset) -> torch.Tensor:
    """The label of every ground-truth instance, image by image in the
    dataset's order and in annotation order within an image, from the
    annotation file."""
    with open(fixture['train_ann_file']) as f:
        anns = json.load(f)['annotations']
    by_image = {}
    for ann in anns:
        by_image.setdefault(ann['image_id'], []).append(
            ann['category_id'] - 1)
    return torch.tensor([
        label for i in range(len(dataset))
        for label in by_image[dataset.get_data_info(i)['img_id']]
    ])


@pytest.mark.parametrize('model', ['faster_rcnn', 'retinanet'])
def test_per_sample_bank_has_one_slot_per_instance(model, digits, tmp_path):
    hook = dict(dsb_hook(), bank_policy='per_sample')
    runner = train(dict(faster_rcnn=faster_rcnn, retinanet=retinanet)[model](),
                   digits, tmp_path, hook=hook, max_epochs=2)
    head, = dsb_heads(runner)
    bank = head.dsb_weighter.bank
    truth = instance_labels_by_hand(digits, runner.train_dataloader.dataset)
    assert bank.num_samples == len(truth) == sum(annotation_counts(digits))
    # Every instance is held (each has a positive RoI or anchor on this
    # fixture), each slot with its own instance's label.
    feats, labels = bank.ordered()
    assert torch.equal(bank.keys(), torch.arange(len(truth)))
    assert torch.equal(labels, truth)
    assert head.dsb_weighter.stage == 3
