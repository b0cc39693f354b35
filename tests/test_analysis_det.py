"""tools/analysis_tools on an mmdet config: the long-tailed LVIS digit set
and a tiny Faster R-CNN trained here by a Runner. Sample volumes of the
ground-truth crops are checked against crops, resizing and a volume
computed here in float64; instance features against the input of
``fc_cls`` captured on the Runner's own model; AP against the Runner's
``test()``."""
import importlib.util
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmdsb.det  # noqa: F401
from det_models import cascade_rcnn, faster_rcnn, retinanet, runner_cfg
from mmdsb.analysis import RunnerModel, load_config
from mmdsb.analysis.det_features import split_instance_features
from mmdsb.det.datasets import write_digits_lvis
from mmdsb.engine.weighter import SemanticScaleWeighter

# Slow: detection analysis on trained Faster R-CNNs.
pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    # The images keep their size; Resize records the scale factor.
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]


def tool(name):
    """The module of a command, to call its ``main`` in this process."""
    spec = importlib.util.spec_from_file_location(
        f'analysis_det_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits_lvis')
    # Small thresholds: 24 images give rare, common and frequent classes.
    return write_digits_lvis(str(root), num_train=24, num_val=8, seed=0,
                             frequency_thresholds=(3, 10))


def write_config(digits, work_dir, model, max_epochs=2) -> str:
    """A complete mmdet config file: training on the digit set, testing on
    its validation split with LVISMetric."""
    cfg = runner_cfg(model, digits, str(work_dir / 'train'),
                     max_epochs=max_epochs, checkpoint=True)
    cfg['train_cfg']['val_begin'] = max_epochs + 1  # no validation
    test_loader = dict(
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='LVISV1Dataset',
            data_root=digits['data_root'],
            ann_file=digits['val_ann_file'],
            data_prefix=dict(img=''),
            metainfo=dict(classes=digits['classes']),
            test_mode=True,
            pipeline=TEST_PIPELINE))
    evaluator = dict(type='LVISMetric', ann_file=digits['val_ann_file'],
                     metric='bbox')
    cfg.update(
        val_dataloader=test_loader, test_dataloader=test_loader,
        val_evaluator=evaluator, test_evaluator=evaluator,
        val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'),
        custom_imports=dict(imports=['mmdsb.det'],
                            allow_failed_imports=False))
    path = str(work_dir / 'faster-rcnn_digits-lvis.py')
    Config(cfg).dump(path)
    return path


@pytest.fixture(scope='module')
def trained(digits, tmp_path_factory):
    """The config file and the checkpoint of its Runner's training."""
    work = tmp_path_factory.mktemp('det_analysis')
    model = faster_rcnn()
    # Keep low-scoring boxes: a briefly trained detector still gets an AP.
    model['test_cfg']['rcnn']['score_thr'] = 0.0
    path = write_config(digits, work, model)
    cfg = Config.fromfile(path)
    Runner.from_cfg(cfg).train()
    return path, str(work / 'train' / 'epoch_2.pth')


def crop_reference(ann_file, image_dir):
    """16x16x3 pixel vectors of every annotated box, cropped and resized
    here with numpy and OpenCV, with labels (category id - 1)."""
    data = load_json(ann_file)
    files = {img['id']: img['file_name'] for img in data['images']}
    vectors, labels = [], []
    for ann in data['annotations']:
        img = cv2.imread(osp.join(image_dir, files[ann['image_id']]),
                         cv2.IMREAD_COLOR)
        x, y, w, h = ann['bbox']
        crop = img[y:y + h, x:x + w]
        small = cv2.resize(crop, (16, 16), interpolation=cv2.INTER_LINEAR)
        vectors.append(small.astype(np.float64).reshape(-1))
        labels.append(ann['category_id'] - 1)
    return np.stack(vectors), np.array(labels), data['categories']


def volume_reference(z: np.ndarray) -> float:
    """Vol = 1/2 log2 det(I_d + d/m (Z - mean)(Z - mean)^T), float64."""
    m, d = z.shape
    if m < 2:
        return 0.0
    zc = (z - z.mean(axis=0)).T  # d x m
    sign, logdet = np.linalg.slogdet(np.eye(d) + d / m * zc @ zc.T)
    assert sign > 0
    return 0.5 * logdet / np.log(2)


def test_dataset_report_gives_crop_volumes_and_lvis_groups(
        digits, trained, tmp_path):
    config, _ = trained
    out_dir = str(tmp_path / 'dataset')
    report = tool('dataset_report')
    assert report.run(report.main, [config, '--out-dir', out_dir]) == 0
    res = load_json(osp.join(out_dir, 'dataset_report.json'))
    x, labels, categories = crop_reference(
        digits['train_ann_file'], osp.join(digits['data_root'], 'train2017'))
    rows = res['classes']
    assert res['num_samples'] == len(labels)
    assert 'ground-truth crops' in res['space']
    counts = np.bincount(labels, minlength=10)
    assert [r['N'] for r in rows] == counts.tolist()
    expected = [volume_reference(x[labels == c]) for c in range(10)]
    assert [r['volume'] for r in rows] == pytest.approx(expected, rel=1e-6)
    by_id = sorted(categories, key=lambda cat: cat['id'])
    groups = [cat['frequency'] for cat in by_id]
    assert [r['group'] for r in rows] == groups
    assert set(groups) == {'r', 'c', 'f'}
    summary = res['frequency_groups']
    median = float(np.median([r['S'] for r in rows if r['S'] is not None]))
    assert summary['median_S'] == pytest.approx(median)
    assert summary['rare_above_median'] == [
        r['class'] for r in rows
        if r['group'] == 'r' and r['S'] is not None and r['S'] > median]


def runner_features(config, checkpoint, work_dir):
    """x_cls of every training instance's own box, captured by a forward
    pre-hook on fc_cls of the Runner's model while its RoI head predicts
    with the ground-truth boxes as the proposals."""
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(checkpoint)
    model = runner.model.eval()
    train_set = dict(cfg.train_dataloader.dataset, pipeline=TEST_PIPELINE)
    loader = Runner.build_dataloader(
        dict(cfg.test_dataloader, dataset=train_set))
    captured, labels = [], []
    hook = model.roi_head.bbox_head.fc_cls.register_forward_pre_hook(
        lambda module, args: captured.append(args[0].clone()))
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            samples = data['data_samples']
            proposals = [InstanceData(bboxes=s.gt_instances.bboxes)
                         for s in samples]
            model.roi_head.predict(model.extract_feat(data['inputs']),
                                   proposals, samples)
            labels += [int(v) for s in samples for v in s.gt_instances.labels]
    hook.remove()
    return torch.cat(captured), torch.tensor(labels), runner


def test_model_report_uses_fc_cls_inputs_and_the_runners_ap(
        digits, trained, tmp_path):
    config, checkpoint = trained
    feats, labels, runner = runner_features(config, checkpoint,
                                            tmp_path / 'reference')
    ann_labels = [a['category_id'] - 1 for a in
                  load_json(digits['train_ann_file'])['annotations']]
    assert labels.tolist() == ann_labels

    res = split_instance_features(
        RunnerModel(load_config(config), checkpoint), 'train',
        progress=False)
    assert res.labels.tolist() == ann_labels
    torch.testing.assert_close(res.feats, feats, rtol=1e-5, atol=1e-5)

    out_dir = str(tmp_path / 'model')
    report = tool('model_report')
    assert report.run(report.main, [
        config, checkpoint, '--eval-split', 'test', '--out-dir', out_dir
    ]) == 0
    out = load_json(osp.join(out_dir, 'model_report.json'))
    assert out['feature_dim'] == 32
    rows = out['classes']
    z = feats.double().numpy()
    expected = [volume_reference(z[labels.numpy() == c]) for c in range(10)]
    assert [r['volume'] for r in rows] == pytest.approx(expected, rel=1e-4)

    # The AP of tools/test.py on the same checkpoint.
    tested = runner.test()
    metrics = out['metrics']
    for key in ('bbox_AP', 'bbox_APr', 'bbox_APc', 'bbox_APf'):
        assert metrics[f'lvis/{key}'] == tested[f'lvis/{key}']
    assert tested['lvis/bbox_AP'] > 0
    # Per-class AP: the Runner's test() with LVISMetric's classwise table.
    runner.test_loop.evaluator.metrics[0].classwise = True
    classwise = runner.test()
    per_class = [r['AP'] for r in rows]
    expected = [classwise[f'lvis/{c}_precision'] for c in digits['classes']]
    assert per_class == [None if math.isnan(a) else a for a in expected]
    assert max(a for a in per_class if a is not None) > 0
    kept = [i for i, r in enumerate(rows)
            if r['S'] is not None and r['AP'] is not None]
    assert out['correlations']['pearson']['N'] == pytest.approx(
        np.corrcoef([rows[i]['N'] for i in kept],
                    [rows[i]['AP'] for i in kept])[0, 1])


def test_retinanet_features_are_the_dsb_heads_bank_entries(
        digits, tmp_path):
    """RetinaNet: the tool's instance features equal what the DSB
    RetinaHead itself puts into its bank for the same images (mean tower
    output at the positive anchors), computed with the checkpoint's
    weights and the Runner's model in eval mode."""
    config = write_config(digits, tmp_path, retinanet(), max_epochs=1)
    cfg = Config.fromfile(config)
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = str(tmp_path / 'train' / 'epoch_1.pth')
    model = runner.model.eval()
    head = model.bbox_head
    weighter = SemanticScaleWeighter(bank_dim=16)
    weighter.init_bank(1000, 10, torch.device('cpu'))
    head.dsb_weighter = weighter  # stage 1: the loss only fills the bank
    train_set = dict(cfg.train_dataloader.dataset, pipeline=TEST_PIPELINE)
    loader = Runner.build_dataloader(
        dict(cfg.test_dataloader, dataset=train_set))
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            x = model.extract_feat(data['inputs'])
            head.train()  # the head keeps its tower output in training
            head.loss(x, data['data_samples'])
            head.eval()
    feats, labels = weighter.bank.ordered()

    res = split_instance_features(
        RunnerModel(load_config(config), checkpoint), 'train',
        progress=False)
    assert res.missing == 0
    ann_labels = [a['category_id'] - 1 for a in
                  load_json(digits['train_ann_file'])['annotations']]
    assert res.labels.tolist() == labels.tolist() == ann_labels
    torch.testing.assert_close(res.feats, feats, rtol=1e-5, atol=1e-5)


def test_cascade_features_are_the_last_stages_classifier_input(
        digits, tmp_path):
    """Cascade R-CNN (freshly initialised weights): the last stage's
    classifier input for each ground-truth box, computed here layer by
    layer from the RoI extractor and the shared fully connected layers."""
    config = write_config(digits, tmp_path, cascade_rcnn())
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'init')
    runner = Runner.from_cfg(cfg)
    model = runner.model.eval()
    checkpoint = str(tmp_path / 'init.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    extractor = model.roi_head.bbox_roi_extractor[2]
    head = model.roi_head.bbox_head[2]
    train_set = dict(cfg.train_dataloader.dataset, pipeline=TEST_PIPELINE)
    loader = Runner.build_dataloader(
        dict(cfg.test_dataloader, dataset=train_set))
    feats = []
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            x = model.extract_feat(data['inputs'])
            rois = torch.cat([
                torch.cat([torch.full((len(s.gt_instances), 1), float(i)),
                           s.gt_instances.bboxes], dim=1)
                for i, s in enumerate(data['data_samples'])])
            h = extractor(x[:extractor.num_inputs], rois).flatten(1)
            for fc in head.shared_fcs:
                h = torch.relu(fc(h))
            feats.append(h)

    res = split_instance_features(
        RunnerModel(load_config(config), checkpoint), 'train',
        progress=False)
    ann_labels = [a['category_id'] - 1 for a in
                  load_json(digits['train_ann_file'])['annotations']]
    assert res.labels.tolist() == ann_labels
    torch.testing.assert_close(res.feats, torch.cat(feats), rtol=1e-5,
                               atol=1e-6)


def test_a_test_pipeline_without_boxes_is_named(trained, tmp_path, capsys):
    config, checkpoint = trained
    report = tool('model_report')
    off = [f'{split}_dataloader.dataset.pipeline.1.with_bbox=False'
           for split in ('val', 'test')]
    assert report.run(report.main, [
        config, checkpoint, '--out-dir', str(tmp_path), '--cfg-options',
        *off]) == 1
    assert "instance features need dict(type='LoadAnnotations', " \
        'with_bbox=True)' in capsys.readouterr().err
