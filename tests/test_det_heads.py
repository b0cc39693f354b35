"""DSB box and RetinaNet heads on hand-made boxes with mmdet's own
assigners and samplers: bank entries, loss weights, checkpoints, errors."""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmdsb.det  # noqa: F401
from mmdet.registry import DATASETS, MODELS, TASK_UTILS
from mmdet.structures.bbox import bbox2roi, bbox_overlaps
from mmdsb.det.datasets import write_digits_lvis
from mmdsb.det.models import instances_per_epoch
from mmdsb.det.models.instance_features import (anchor_instance_features,
                                                mean_per_instance,
                                                roi_instance_features)
from mmdsb.engine.weighter import SemanticScaleWeighter

NUM_CLASSES = 10
RCNN_CFG = ConfigDict(pos_weight=-1)
# Two images: A (label 3) and B (label 7) in the first, C (label 3) in
# the second, with proposals around them and two background boxes.
GTS = [([[10., 10., 30., 30.], [40., 40., 60., 60.]], [3, 7]),
       ([[5., 30., 25., 50.]], [3])]
PROPOSALS = [[[11., 11., 31., 31.], [9., 10., 29., 30.],
              [41., 40., 61., 60.], [0., 0., 8., 8.], [30., 0., 50., 8.]],
             [[6., 31., 26., 51.], [40., 0., 60., 20.]]]


def sampling_results(add_gt_as_proposals=True):
    assigner = TASK_UTILS.build(
        dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
             min_pos_iou=0.5, match_low_quality=False))
    sampler = TASK_UTILS.build(
        dict(type='RandomSampler', num=64, pos_fraction=0.75,
             neg_pos_ub=-1, add_gt_as_proposals=add_gt_as_proposals))
    results = []
    for (boxes, labels), proposals in zip(GTS, PROPOSALS):
        gt = InstanceData(bboxes=torch.tensor(boxes),
                          labels=torch.tensor(labels))
        pred = InstanceData(priors=torch.tensor(proposals))
        results.append(sampler.sample(assigner.assign(pred, gt), pred, gt))
    return results


def test_one_entry_per_instance_own_box_else_mean_of_positives():
    # The classifier input of a RoI is its box, so each entry is readable.
    with_gt = sampling_results(add_gt_as_proposals=True)
    rois = bbox2roi([res.priors for res in with_gt])
    feats, labels, images, instances = roi_instance_features(
        rois[:, 1:], with_gt)
    assert labels.tolist() == [3, 7, 3]
    assert images.tolist() == [0, 0, 1]
    assert instances.tolist() == [0, 1, 0]  # A, B of image 0; C of 1
    assert feats.tolist() == [b for boxes, _ in GTS for b in boxes]

    without_gt = sampling_results(add_gt_as_proposals=False)
    rois = bbox2roi([res.priors for res in without_gt])
    feats, labels, _, _ = roi_instance_features(rois[:, 1:], without_gt)
    assert labels.tolist() == [3, 7, 3]
    assert feats.tolist() == [[10., 10.5, 30., 30.5], [41., 40., 61., 60.],
                              [6., 31., 26., 51.]]


def test_anchor_entries_are_means_over_each_instances_anchor_locations():
    # Two channels; level 0 has 2x2 locations (0, 4), (1, 5), (2, 6),
    # (3, 7), level 1 one location (10, 20); two anchors per location, so
    # anchors 0-7 lie on level 0 (location = anchor // 2), 8 and 9 on 1.
    levels = [torch.arange(8.).reshape(2, 2, 2),
              torch.tensor([[[10.]], [[20.]]])]
    anchor_ids = torch.tensor([1, 6, 9, 2])
    gt_inds = torch.tensor([0, 0, 2, 2])
    means, found = anchor_instance_features(levels, anchor_ids, gt_inds,
                                            num_base_priors=2,
                                            num_instances=3)
    # Instance 0: locations 0 and 3; instance 1: none; instance 2: level
    # 1 and location 1.
    assert found.tolist() == [True, False, True]
    assert means.tolist() == [[1.5, 5.5], [0., 0.], [5.5, 12.5]]

    means, found = mean_per_instance(torch.zeros(0, 2),
                                     torch.zeros(0, dtype=torch.long), 2)
    assert means.tolist() == [[0., 0.], [0., 0.]]
    assert found.tolist() == [False, False]


def build_heads(head_type='Shared2FCBBoxHead', **kwargs):
    cfg = dict(type=f'DSB{head_type}', in_channels=4, fc_out_channels=8,
               roi_feat_size=2, num_classes=NUM_CLASSES, **kwargs)
    dsb = MODELS.build(cfg)
    dsb.init_weights()
    plain = MODELS.build(dict(cfg, type=head_type))
    plain.load_state_dict(dsb.state_dict())
    return dsb.train(), plain.train()


def filled_weighter(capacity=80, num_classes=NUM_CLASSES, stage=2,
                    bank_dim=8, fill=True):
    weighter = SemanticScaleWeighter(bank_dim=bank_dim)
    weighter.init_bank(capacity, num_classes, torch.device('cpu'))
    if fill:
        gen = torch.Generator().manual_seed(0)
        labels = torch.arange(num_classes).repeat(6)
        # Class c spreads over a radius c + 1: the weights differ by class.
        feats = torch.randn(labels.numel(), bank_dim, generator=gen) * (
            labels[:, None] + 1.)
        weighter.bank.push(feats, labels)
    weighter.stage = stage
    return weighter


def losses_of(head, x, results):
    rois = bbox2roi([res.priors for res in results])
    cls_score, bbox_pred = head(x)
    out = head.loss_and_target(cls_score, bbox_pred, rois, results,
                               RCNN_CFG)
    return cls_score, out['loss_bbox']


@pytest.mark.parametrize('stage', [1, 2])
def test_loss_is_mmdets_outside_reweighting(stage):
    dsb, plain = build_heads()
    dsb.dsb_weighter = filled_weighter(stage=stage)
    results = sampling_results()
    x = torch.randn(sum(len(r.priors) for r in results), 4, 2, 2)
    before = len(dsb.dsb_weighter.bank)
    _, ours = losses_of(dsb, x, results)
    _, theirs = losses_of(plain, x, results)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    # Three instances entered the bank (not yet full: nothing left it).
    assert len(dsb.dsb_weighter.bank) - before == 3
    assert dsb.dsb_weighter.bank.ordered()[1][-3:].tolist() == [3, 7, 3]


def test_foreground_rois_weighted_by_a_y_background_by_one():
    dsb, plain = build_heads()
    weighter = dsb.dsb_weighter = filled_weighter(stage=3)
    results = sampling_results()
    x = torch.randn(sum(len(r.priors) for r in results), 4, 2, 2)
    cls_score, ours = losses_of(dsb, x, results)
    a = weighter.class_weights().double()
    assert a.max() / a.min() > 1.5  # the check below can tell them apart
    labels = plain.get_targets(results, RCNN_CFG)[0]
    ce = -F.log_softmax(cls_score.detach().double(), dim=1)[
        torch.arange(labels.numel()), labels]
    roi_w = torch.tensor([
        a[y].item() if y < NUM_CLASSES else 1.0 for y in labels.tolist()
    ], dtype=torch.float64)
    assert (labels == NUM_CLASSES).any() and (labels < NUM_CLASSES).any()
    # avg_factor stays the number of sampled RoIs.
    expected = (roi_w * ce).sum() / labels.numel()
    # ours is float32: float32 tolerances.
    torch.testing.assert_close(ours['loss_cls'].double(), expected,
                               rtol=1.3e-6, atol=1e-5)
    _, theirs = losses_of(plain, x, results)
    torch.testing.assert_close(ours['loss_bbox'], theirs['loss_bbox'])


def test_seesaw_gets_the_weights_through_label_weights():
    seesaw = dict(type='SeesawLoss', p=0.8, q=2.0, num_classes=NUM_CLASSES,
                  loss_weight=1.0)
    dsb, plain = build_heads(loss_cls=seesaw)
    assert dsb.fc_cls.out_features == NUM_CLASSES + 2
    dsb.dsb_weighter = filled_weighter(stage=3)
    results = sampling_results()
    x = torch.randn(sum(len(r.priors) for r in results), 4, 2, 2)
    _, ours = losses_of(dsb, x, results)
    _, theirs = losses_of(plain, x, results)
    assert torch.isfinite(ours['loss_cls_classes'])
    assert not torch.allclose(ours['loss_cls_classes'],
                              theirs['loss_cls_classes'])
    # The objectness part sees every RoI with its weight, background 1.
    assert torch.isfinite(ours['loss_cls_objectness'])


@pytest.mark.parametrize('head_type', [
    'Shared2FCBBoxHead', 'Shared4Conv1FCBBoxHead', 'ConvFCBBoxHead'
])
def test_same_state_dict_as_mmdet_heads(head_type):
    kwargs = dict(num_cls_fcs=1, num_reg_fcs=1) \
        if head_type == 'ConvFCBBoxHead' else {}
    dsb, plain = build_heads(head_type, **kwargs)
    assert dsb.state_dict().keys() == plain.state_dict().keys()
    dsb.load_state_dict(plain.state_dict())
    retina = dict(type='RetinaHead', num_classes=NUM_CLASSES, in_channels=4,
                  stacked_convs=1, feat_channels=4)
    keys = MODELS.build(retina).state_dict().keys()
    assert MODELS.build(dict(retina, type='DSBRetinaHead')).state_dict(
    ).keys() == keys


def test_clear_errors():
    with pytest.raises(TypeError, match='linear classifier fc_cls'):
        build_heads(with_cls=False)
    results = sampling_results()
    x = torch.randn(sum(len(r.priors) for r in results), 4, 2, 2)
    dsb, _ = build_heads()
    with pytest.raises(RuntimeError, match='DSBHook'):
        losses_of(dsb, x, results)
    dsb.dsb_weighter = filled_weighter(num_classes=5)
    with pytest.raises(ValueError, match='num_classes=10 but its DSB'):
        losses_of(dsb, x, results)
    dsb.dsb_weighter = filled_weighter(capacity=2)
    with pytest.raises(ValueError, match='3 ground-truth instances in one '
                       'iteration but the DSB feature bank holds only 2'):
        losses_of(dsb, x, results)
    # A forward pass outside training is not observed.
    dsb.dsb_weighter = filled_weighter()
    rois = bbox2roi([res.priors for res in results])
    cls_score, bbox_pred = dsb.eval()(x)
    with pytest.raises(RuntimeError, match='did not observe'):
        dsb.loss_and_target(cls_score, bbox_pred, rois, results, RCNN_CFG)


def retina_heads():
    cfg = dict(
        type='DSBRetinaHead', num_classes=NUM_CLASSES, in_channels=3,
        stacked_convs=0, feat_channels=3,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2,
                              scales_per_octave=1, ratios=[0.5, 1.0, 2.0],
                              strides=[8, 16]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=1.0),
        train_cfg=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.4, min_pos_iou=0,
                          match_low_quality=False),
            sampler=dict(type='PseudoSampler'), allowed_border=-1,
            pos_weight=-1, debug=False))
    dsb = MODELS.build(cfg)
    dsb.init_weights()
    plain = MODELS.build(dict(cfg, type='RetinaHead'))
    plain.load_state_dict(dsb.state_dict())
    return dsb.train(), plain.train()


def retina_inputs():
    """With no tower convs the classification features are the input:
    channels 0 and 1 the x and y centre of each location, channel 2 its
    level; the second image adds 0.5 to all three."""
    feats = []
    for level, stride in enumerate((8, 16)):
        size = 64 // stride
        ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size),
                                indexing='ij')
        one = torch.stack([xs * stride, ys * stride,
                           torch.full_like(xs, level)]).float()
        feats.append(torch.stack([one, one + 0.5]))
    gts = [InstanceData(bboxes=torch.tensor([[8., 8., 24., 26.],
                                             [16., 16., 48., 48.]]),
                        labels=torch.tensor([2, 5])),
           InstanceData(bboxes=torch.tensor([[32., 8., 48., 24.]]),
                        labels=torch.tensor([2]))]
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))] * 2
    return tuple(feats), gts, metas


def test_retina_entries_are_mean_features_at_positive_anchors():
    dsb, _ = retina_heads()
    dsb.dsb_weighter = filled_weighter(stage=1, bank_dim=3, fill=False)
    feats, gts, metas = retina_inputs()
    cls_scores, bbox_preds = dsb(feats)
    dsb.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    bank_feats, bank_labels = dsb.dsb_weighter.bank.ordered()
    assert bank_labels.tolist() == [2, 5, 2]
    # Reference: the anchors whose best ground truth overlaps them by at
    # least 0.5; an anchor's feature is its centre and level.
    anchors = dsb.prior_generator.grid_priors([(8, 8), (4, 4)],
                                              device='cpu')
    expected = []
    for img, gt in enumerate(gts):
        rows = torch.cat([
            torch.cat([(a[:, :2] + a[:, 2:]) / 2,
                       torch.full((len(a), 1), float(level))], dim=1)
            for level, a in enumerate(anchors)
        ]) + 0.5 * img
        best, arg = bbox_overlaps(torch.cat(anchors), gt.bboxes).max(dim=1)
        for j in range(len(gt.bboxes)):
            pos = (best >= 0.5) & (arg == j)
            assert pos.any()
            expected.append(rows[pos].mean(dim=0))
    torch.testing.assert_close(bank_feats, torch.stack(expected))


def focal(logits, labels):
    """Float64 sigmoid focal loss (gamma 2, alpha 0.25) of each anchor."""
    target = F.one_hot(labels, NUM_CLASSES + 1)[:, :NUM_CLASSES].double()
    p = torch.sigmoid(logits.double())
    pt = p * target + (1 - p) * (1 - target)
    alpha_t = 0.25 * target + 0.75 * (1 - target)
    return (-alpha_t * (1 - pt)**2 * torch.log(pt)).sum(dim=1)


@pytest.mark.parametrize('stage', [2, 3])
def test_retina_positive_anchors_weighted_by_a_y(stage):
    dsb, plain = retina_heads()
    weighter = dsb.dsb_weighter = filled_weighter(stage=stage, bank_dim=3)
    feats, gts, metas = retina_inputs()
    cls_scores, bbox_preds = dsb(feats)
    ours = dsb.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    theirs = plain.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    if stage == 2:
        for key in ours:
            for mine, mmdet in zip(ours[key], theirs[key]):
                assert torch.equal(mine, mmdet), key
        return
    a = weighter.class_weights().double()
    anchors, valid = plain.get_anchors([s.shape[-2:] for s in cls_scores],
                                       metas, device='cpu')
    labels_list, label_weights_list, _, _, avg_factor = plain.get_targets(
        anchors, valid, gts, metas)
    expected = 0
    for score, labels, label_weights in zip(cls_scores, labels_list,
                                            label_weights_list):
        logits = score.detach().permute(0, 2, 3, 1).reshape(-1, NUM_CLASSES)
        labels = labels.reshape(-1)
        dsb_w = torch.ones(labels.numel(), dtype=torch.float64)
        fg = labels < NUM_CLASSES
        dsb_w[fg] = a[labels[fg]]
        expected += (focal(logits, labels) * dsb_w *
                     label_weights.reshape(-1)).sum() / avg_factor
    got = sum(ours['loss_cls'])
    torch.testing.assert_close(got.double(), expected, rtol=1e-5,
                               atol=1e-7)
    assert not torch.allclose(got, sum(theirs['loss_cls']))
    for mine, mmdet in zip(ours['loss_bbox'], theirs['loss_bbox']):
        assert torch.equal(mine, mmdet)


def test_instances_per_epoch_counts_repeat_factor_sampling(tmp_path):
    fixture = write_digits_lvis(str(tmp_path), num_train=24, num_val=2)
    dataset_cfg = dict(
        type='LVISV1Dataset', data_root=fixture['data_root'],
        ann_file=fixture['train_ann_file'], data_prefix=dict(img=''),
        metainfo=dict(classes=fixture['classes']), pipeline=[])
    with open(fixture['train_ann_file']) as f:
        ann = json.load(f)
    per_image = {img['id']: [] for img in ann['images']}
    for a in ann['annotations']:
        per_image[a['image_id']].append(a['category_id'])
    assert instances_per_epoch(DATASETS.build(dataset_cfg)) == len(
        ann['annotations'])
    # LVIS repeat factors: r(c) = max(1, sqrt(t / f(c))), an image repeats
    # ceil(max over its classes) times.
    t = 0.3
    num_images = len(per_image)
    freq = {
        c['id']: sum(c['id'] in cats for cats in per_image.values()) /
        num_images
        for c in ann['categories']
    }
    expected = sum(
        math.ceil(max(max(1., math.sqrt(t / freq[c])) for c in cats)) *
        len(cats) for cats in per_image.values())
    balanced = DATASETS.build(
        dict(type='ClassBalancedDataset', oversample_thr=t,
             dataset=DATASETS.build(dataset_cfg)))
    assert expected > len(ann['annotations'])
    assert instances_per_epoch(balanced) == expected
