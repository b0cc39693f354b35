"""tools/analysis_tools on real data: long-tailed digits, a LeNet-5 trained
here by an mmengine Runner, and a folder of PNG files with a ``path label``
list. Every command runs once as a subprocess, as from the command line;
its numbers are checked against :mod:`mmdsb.semantic_scale` applied to
vectors computed here independently."""
import csv
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

import mmdsb  # noqa: F401
from mmdsb.analysis import RunnerModel, load_config, split_features
from mmdsb.datasets import DigitsLT
from mmdsb.evaluation import ShotAccuracy
from mmdsb.semantic_scale import (class_volumes, feature_volume,
                                  semantic_scales)

# Slow: every analysis command end to end, on a trained LeNet-5.
pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs', 'demo', 'ce_lenet5_digits-lt.py')
TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
DIGITS_COUNTS = [124, 80, 51, 33, 21, 14, 9, 5, 3, 2]  # rho = 50
PNG_COUNTS = [12, 8, 1]  # the last class has a single image

PNG_CONFIG = """
default_scope = 'mmpretrain'
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={root!r},
                 ann_file='train.txt', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={root!r},
                 ann_file='empty.txt', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
"""


def tool(name):
    """The module of a command, to call its ``main`` in this process."""
    spec = importlib.util.spec_from_file_location(
        f'analysis_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vector(img):
    """16 x 16 x 3 pixel vector, computed here with OpenCV."""
    img = cv2.resize(img, (16, 16), interpolation=cv2.INTER_LINEAR)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    return img.astype(np.float32).reshape(-1)


def digits_vectors(split='train', imbalance_ratio=50):
    ds = DigitsLT(split=split, imbalance_ratio=imbalance_ratio)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    x = torch.from_numpy(np.stack([vector(i['img']) for i in infos]))
    return x, torch.tensor([i['gt_label'] for i in infos])


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    return tmp_path_factory.mktemp('analysis')


def train_lenet(work):
    """LeNet-5 trained for a few epochs on the digits by a Runner."""
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(work / 'train')
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=100)
    cfg.param_scheduler = dict(type='LinearLR', start_factor=1.0,
                               end_factor=0.1, by_epoch=True, begin=0, end=6)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=6)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    Runner.from_cfg(cfg).train()
    return str(work / 'train' / 'epoch_6.pth')


@pytest.fixture(scope='module')
def checkpoint(work, cli):
    return str(work / 'train' / 'epoch_6.pth')


@pytest.fixture(scope='module')
def png_config(work):
    """CustomDataset over PNG files and a ``path label`` list."""
    from fixtures import write_image_list
    root = work / 'png'
    write_image_list(str(root), PNG_COUNTS, size=24)
    (root / 'empty.txt').write_text('')
    path = work / 'png_config.py'
    path.write_text(PNG_CONFIG.format(root=str(root)))
    return str(path)


@pytest.fixture(scope='module')
def cli(work, png_config):
    """Run every command once as a subprocess and return
    ``name -> (returncode, stdout, stderr, out_dir)``. They run in
    parallel, the model report once the checkpoint is trained."""
    out = work / 'out'
    commands = {
        'dataset_report': [DEMO],
        'marginal_effect': [DEMO, '--classes', '0', '5', '9', '--step', '10',
                            '--order', 'dataset'],
        'representative_subset': [png_config, '--classes', '0', '--size',
                                  '6', '--k', '4', '--rounds', '3'],
        'collection_stop': [DEMO, '--classes', '0', '1', '--step', '10',
                            '--alpha', '5'],
        'parent_matching': [
            DEMO, '--split', 'test', '--parent-split', 'train',
            '--children', '0', '1', '2', '3', '--parents', '0+2', '1+3',
            '--expected', '0+2', '1+3', '0+2', '1+3', '--cfg-options',
            'train_dataloader.dataset.imbalance_ratio=1'],
    }
    # One thread each: the commands share the machine's cores.
    env = dict(os.environ, MPLBACKEND='Agg', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    procs = {}

    def start(name, args):
        out_dir = out / name
        out_dir.mkdir(parents=True)
        # Files, not pipes: nothing blocks while the others run.
        logs = [open(out_dir / f, 'w+') for f in ('stdout.txt', 'stderr.txt')]
        proc = subprocess.Popen(
            [sys.executable, osp.join(TOOLS, f'{name}.py'), *args,
             '--out-dir', str(out_dir)], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=logs[0], stderr=logs[1],
            text=True)
        procs[name] = (proc, logs, str(out_dir))

    try:
        for name, args in commands.items():
            start(name, args)
        start('model_report', [DEMO, train_lenet(work), '--eval-split',
                               'test'])
    except BaseException:
        for proc, _, _ in procs.values():
            proc.kill()
        raise
    results = {}
    for name, (proc, logs, out_dir) in procs.items():
        proc.wait(timeout=300)
        texts = []
        for log in logs:
            log.seek(0)
            texts.append(log.read())
            log.close()
        results[name] = (proc.returncode, *texts, out_dir)
    return results


def ok(cli, name):
    rc, stdout, stderr, out_dir = cli[name]
    assert rc == 0, f'{name} failed:\n{stdout}\n{stderr}'
    return stdout, stderr, out_dir


def test_every_command_writes_valid_pngs(cli):
    assert len(cli) == 6
    for name in cli:
        _, _, out_dir = ok(cli, name)
        pngs = [f for f in os.listdir(out_dir) if f.endswith('.png')]
        assert pngs, name
        for f in pngs:
            with open(osp.join(out_dir, f), 'rb') as fh:
                assert fh.read(8) == PNG_MAGIC
            with Image.open(osp.join(out_dir, f)) as img:
                img.verify()
                assert min(img.size) > 100


def test_dataset_report_matches_the_semantic_scale_api(cli):
    stdout, stderr, out_dir = ok(cli, 'dataset_report')
    # Progress into a file: plain lines, the last at the end.
    assert 'images: 342/342 (100%)' in stderr and '\r' not in stderr
    res = load_json(osp.join(out_dir, 'dataset_report.json'))
    x, y = digits_vectors()
    assert x.shape == (342, 768)
    vols = class_volumes(x, y, 10)
    scales = semantic_scales(x, y, 10, alpha=2.0)
    rows = res['classes']
    assert [r['N'] for r in rows] == DIGITS_COUNTS
    for i, r in enumerate(rows):
        assert r['volume'] == pytest.approx(float(vols[i]), rel=1e-9)
        assert r["S'"] == pytest.approx(float(vols[i] / vols.max()))
        assert r['S'] == pytest.approx(float(scales[i]), rel=1e-9)
        assert r['E_n'] == pytest.approx((1 - 0.999**r['N']) / 0.001)
    # The head class spans the largest volume; the tail the smallest.
    assert rows[0]["S'"] == 1.0 and vols[9] == vols.min()
    order = sorted(range(10), key=lambda i: float(scales[i]))
    assert res['weakest_by_S'] == [str(i) for i in order[:5]]
    assert res['weakest_by_N'] == ['9', '8', '7', '6', '5']
    with open(osp.join(out_dir, 'dataset_report.csv')) as f:
        table = list(csv.reader(f))
    assert table[0] == ['class', 'N', 'E_n', 'volume', "S'", 'W', 'S']
    assert float(table[1][3]) == pytest.approx(float(vols[0]))
    assert 'weakest by S: ' + ', '.join(res['weakest_by_S']) in stdout


class RunnerReference:
    """What the Runner's own ``test()`` of a checkpoint gives on a split of
    the demo config: the head's classifier input (``head.fc``'s input,
    taken by a forward pre-hook on ``runner.model``), the labels in loader
    order, the metrics and ShotAccuracy's per-class accuracy. Nothing of
    :mod:`mmdsb.analysis` is involved."""

    def __init__(self, work, checkpoint, split):
        cfg = Config.fromfile(DEMO)
        cfg.work_dir = str(work / f'reference_{split}')
        cfg.load_from = checkpoint
        cfg.log_level = 'WARNING'
        if split == 'train':  # the training images, read for testing
            cfg.test_dataloader.dataset.split = 'train'
            cfg.test_dataloader.batch_size = 32
        runner = Runner.from_cfg(cfg)
        # The normalisation the model depends on comes from the config's
        # top-level data_preprocessor, which the Runner merges in.
        assert runner.model.data_preprocessor.mean.flatten().tolist() == \
            pytest.approx([77.85])
        assert runner.model.data_preprocessor.std.flatten().tolist() == \
            pytest.approx([95.85])
        feats, labels = [], []
        runner.model.head.fc.register_forward_pre_hook(
            lambda module, args: feats.append(args[0].detach().clone()))
        runner.model.register_forward_hook(
            lambda module, args, out: labels.extend(
                int(s.gt_label) for s in out))
        self.metrics = runner.test()
        shot = next(m for m in runner.test_evaluator.metrics
                    if isinstance(m, ShotAccuracy))
        self.per_class = shot.per_class_accuracy
        self.feats, self.labels = torch.cat(feats), torch.tensor(labels)


@pytest.fixture(scope='module')
def reference(work, checkpoint):
    return {split: RunnerReference(work, checkpoint, split)
            for split in ('train', 'test')}


def test_model_report_equals_the_runners_test(cli, reference):
    stdout, _, out_dir = ok(cli, 'model_report')
    res = load_json(osp.join(out_dir, 'model_report.json'))
    assert res['feature_dim'] == 120 and res['num_samples'] == 342
    test = reference['test']
    # Per class and overall: the numbers tools/test.py prints.
    assert [r['accuracy'] for r in res['classes']] == test.per_class
    acc = res['accuracy']
    assert acc['metrics'] == pytest.approx(test.metrics, abs=1e-9)
    assert acc['class_averaged'] == pytest.approx(
        test.metrics['shot/overall'], abs=1e-9)
    assert acc['image_averaged'] == pytest.approx(
        test.metrics['shot/overall_img'], abs=1e-9)
    assert "mmdsb's ShotAccuracy of the config's test_evaluator on the " \
        'test split' in stdout
    # A LeNet trained on normalised digits is far above chance on them.
    assert test.metrics['shot/many'] > 80

    train = reference['train']
    assert train.labels.tolist() == digits_vectors()[1].tolist()
    vols = class_volumes(train.feats, train.labels, 10)
    rows = res['classes']
    assert [r['volume'] for r in rows] == pytest.approx(vols.tolist(),
                                                        rel=1e-4)
    s = {a: semantic_scales(train.feats, train.labels, 10, alpha=a).numpy()
         for a in (1.0, 1.5, 2.0, 2.5, 3.0)}
    assert [r['S'] for r in rows] == pytest.approx(s[2.0].tolist(), rel=1e-4)
    corr = res['correlations']['pearson']
    assert res['correlations']['classes_used'] == 10
    assert corr['N'] == pytest.approx(
        np.corrcoef(DIGITS_COUNTS, test.per_class)[0, 1], rel=1e-6)
    for a, scales in s.items():
        assert corr[f'S(alpha={a:g})'] == pytest.approx(
            np.corrcoef(scales, test.per_class)[0, 1], rel=1e-3)
    assert "S(alpha=2.5)" in stdout and 'accuracy' in stdout


@pytest.mark.parametrize('split', ['train', 'test'])
def test_tool_features_are_the_runners_pre_logits(checkpoint, reference,
                                                  split):
    model = RunnerModel(load_config(DEMO), checkpoint)
    res = split_features(model, split, evaluate=True, progress=False)
    ref = reference[split]
    torch.testing.assert_close(res.feats, ref.feats, rtol=1e-5, atol=1e-5)
    assert res.labels.tolist() == ref.labels.tolist()
    if split == 'test':
        assert res.metrics == pytest.approx(ref.metrics, abs=1e-9)
    else:
        assert res.metrics is None  # the demo has no train_evaluator


def test_init_cfg_is_not_applied_over_the_checkpoint(checkpoint, reference,
                                                     work):
    """As in the Runner's test(), a Pretrained init_cfg (here a file that
    does not exist) is never run: the weights are the checkpoint's."""
    cfg = load_config(DEMO, {'model.init_cfg': dict(
        type='Pretrained', checkpoint=str(work / 'missing.pth'))})
    res = split_features(RunnerModel(cfg, checkpoint), 'test',
                         progress=False)
    torch.testing.assert_close(res.feats, reference['test'].feats,
                               rtol=1e-5, atol=1e-5)


def run_in_process(tool_name, args, work):
    """Run a command in this process and return its JSON result."""
    out_dir = str(work / f'ckpt_{tool_name}')
    module = tool(tool_name)
    assert module.run(module.main, [*args, '--out-dir', out_dir]) == 0
    return load_json(osp.join(out_dir, f'{tool_name}.json'))


def class_feats(ref, *classes):
    mask = torch.zeros_like(ref.labels, dtype=torch.bool)
    for c in classes:
        mask |= ref.labels == c
    return ref.feats[mask]


@pytest.mark.parametrize('name', ['marginal_effect', 'representative_subset',
                                  'collection_stop', 'parent_matching'])
def test_checkpoint_commands_use_the_runners_features(name, checkpoint,
                                                      reference, work):
    train, test = reference['train'], reference['test']
    args = {
        'marginal_effect': ['--classes', '0', '5', '--step', '20',
                            '--order', 'dataset'],
        'representative_subset': ['--classes', '1', '--size', '20', '--k',
                                  '2', '--rounds', '1'],
        'collection_stop': ['--classes', '0', '--step', '40'],
        'parent_matching': ['--split', 'test', '--parent-split', 'train',
                            '--children', '0', '1', '--parents', '0+2',
                            '1+3'],
    }[name]
    res = run_in_process(name, [DEMO, '--checkpoint', checkpoint, *args],
                         work)
    assert res['space'].startswith('feature volume')
    if name == 'marginal_effect':
        for c in (0, 5):  # class 5 has 14 samples, fewer than a step
            assert res['full_volumes'][str(c)] == pytest.approx(
                float(feature_volume(class_feats(train, c))), rel=1e-4)
        x0 = class_feats(train, 0)
        assert res['curves']['0'][:6] == pytest.approx(
            [float(feature_volume(x0[:m])) for m in res['sizes'][:6]],
            rel=1e-4)
    elif name == 'representative_subset':
        c1 = res['classes']['1']
        assert c1['full_volume'] == pytest.approx(
            float(feature_volume(class_feats(train, 1))), rel=1e-4)
        assert c1['volume'] == pytest.approx(
            float(feature_volume(train.feats[c1['positions']])), rel=1e-4)
    elif name == 'collection_stop':
        x0 = class_feats(train, 0)
        c0 = res['classes']['0']
        assert c0['counts'] == [40, 80, 120]
        assert c0['volumes'] == pytest.approx(
            [float(feature_volume(x0[:m])) for m in (40, 80, 120)],
            rel=1e-4)
    else:
        for child in (0, 1):
            for parent, members in (('0+2', (0, 2)), ('1+3', (1, 3))):
                xp = class_feats(train, *members)
                mixed = torch.cat([xp, class_feats(test, child)])
                assert res['ratios'][str(child)][parent] == pytest.approx(
                    float(feature_volume(mixed) / feature_volume(xp)),
                    rel=1e-4)


def test_head_mismatch_is_reported_with_both_shapes(checkpoint, work,
                                                    capsys):
    report = tool('model_report')
    rc = report.run(report.main, [
        DEMO, checkpoint, '--cfg-options', 'model.head.num_classes=5',
        '--out-dir', str(work / 'mismatch')])
    assert rc == 1
    err = capsys.readouterr().err
    assert 'head.fc.weight: (10, 120) in the checkpoint, (5, 120) in the ' \
        'config' in err
    assert 'another number of classes' in err


def test_marginal_effect_curves(cli):
    stdout, _, out_dir = ok(cli, 'marginal_effect')
    res = load_json(osp.join(out_dir, 'marginal_effect.json'))
    x, y = digits_vectors()
    assert res['sizes'] == list(range(10, 121, 10)) + [124]
    assert res['counts'] == {'0': 124, '5': 14, '9': 2}
    for name in ('0', '5', '9'):
        xc = x[y == int(name)]
        for m, v in zip(res['sizes'], res['curves'][name]):
            if m > len(xc):
                assert v is None
            else:
                assert v == pytest.approx(float(feature_volume(xc[:m])),
                                          rel=1e-9)
    for name in ('5', '9'):  # their curves end before the first step
        assert res['full_volumes'][name] == pytest.approx(
            float(feature_volume(x[y == int(name)])), rel=1e-9)
    last = sum(float(feature_volume(x[y == c])) for c in (0, 5, 9))
    assert res['total'][-1] == pytest.approx(last, rel=1e-9)
    # Saturation on real images: the head class gains less and less.
    gains = np.diff(res['curves']['0'][:12])
    assert gains[0] > 3 * gains[-1] > 0
    assert 'sum of volumes' in stdout


def test_representative_subset_writes_a_readable_list(cli, png_config):
    from mmpretrain.datasets import CustomDataset
    stdout, _, out_dir = ok(cli, 'representative_subset')
    res = load_json(osp.join(out_dir, 'representative_subset.json'))
    root = osp.join(osp.dirname(png_config), 'png')
    kept = CustomDataset(data_root=root, ann_file=osp.join(
        out_dir, 'representative_subset.txt'))
    labels = [kept.get_data_info(i)['gt_label'] for i in range(len(kept))]
    assert np.bincount(labels).tolist() == [6, 8, 1]  # only class 0 reduced
    paths = [kept.get_data_info(i)['img_path'] for i in range(len(kept))]
    x0 = torch.from_numpy(np.stack(
        [vector(cv2.imread(p)) for p, lab in zip(paths, labels) if lab == 0]))
    c0 = res['classes']['0']
    assert c0['volume'] == pytest.approx(float(feature_volume(x0)), rel=1e-9)
    assert c0['volume'] >= c0['random_mean']
    assert set(res['classes']) == {'0'} and res['num_kept'] == 15
    positions = load_json(osp.join(out_dir,
                                   'representative_subset_indices.json'))
    assert len(positions) == 15 and set(c0['positions']) <= set(positions)
    with open(osp.join(out_dir, 'representative_subset.txt')) as f:
        assert f.readline().startswith('000/train_')  # relative to the root


def test_collection_stop_rule(cli):
    stdout, _, out_dir = ok(cli, 'collection_stop')
    res = load_json(osp.join(out_dir, 'collection_stop.json'))
    x, y = digits_vectors()
    for name, n in (('0', 124), ('1', 80)):
        c = res['classes'][name]
        xc = x[y == int(name)]
        assert c['counts'] == list(range(10, n + 1, 10))
        vols = [float(feature_volume(xc[:m])) for m in c['counts']]
        assert c['volumes'] == pytest.approx(vols, rel=1e-9)
        rel = [(b - a) / b for a, b in zip(vols, vols[1:])]
        # Differences of nearly equal volumes: the volumes' 1e-9 relative
        # agreement bounds the increments absolutely, not relatively.
        assert c['rel_increments'][1:] == pytest.approx(rel, abs=1e-8)
        below = [k for k, r in enumerate(rel, 2) if r < 0.05]
        assert c['stop_step'] == (below[0] if below else None)
    assert res['classes']['0']['stop_step'] is not None


def test_parent_matching_finds_the_parents(cli):
    stdout, _, out_dir = ok(cli, 'parent_matching')
    res = load_json(osp.join(out_dir, 'parent_matching.json'))
    assert res['matched'] == {'0': '0+2', '1': '1+3', '2': '0+2',
                              '3': '1+3'}
    assert res['num_correct'] == 4
    xc, yc = digits_vectors('test')
    xp, yp = digits_vectors('train', imbalance_ratio=1)
    parents = {'0+2': xp[(yp == 0) | (yp == 2)],
               '1+3': xp[(yp == 1) | (yp == 3)]}
    for child in '0123':
        for name, xpar in parents.items():
            mixed = torch.cat([xpar, xc[yc == int(child)]])
            expect = float(feature_volume(mixed) / feature_volume(xpar))
            assert res['ratios'][child][name] == pytest.approx(expect,
                                                               rel=1e-9)
    assert '4 of 4 children matched' in stdout


def test_one_sample_class_is_reported_and_the_rest_analysed(
        png_config, work, capsys):
    out_dir = str(work / 'single')
    rc = tool('dataset_report').run(
        tool('dataset_report').main, [png_config, '--out-dir', out_dir])
    captured = capsys.readouterr()
    assert rc == 0
    assert "class '2' has 1 sample" in captured.err
    res = load_json(osp.join(out_dir, 'dataset_report.json'))
    rows = res['classes']
    assert [r['N'] for r in rows] == PNG_COUNTS
    assert rows[2]['volume'] == 0 and rows[2]['S'] is None
    # The other classes: colour images read from the files.
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(data_root=osp.join(osp.dirname(png_config), 'png'),
                       ann_file='train.txt')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    x = torch.from_numpy(np.stack([vector(cv2.imread(i['img_path']))
                                   for i in infos]))
    y = torch.tensor([i['gt_label'] for i in infos])
    vols = class_volumes(x, y, 3)
    assert [r['volume'] for r in rows] == pytest.approx(vols.tolist())
    assert rows[1]['S'] == pytest.approx(
        float(semantic_scales(x, y, 3)[1]))
    assert res['weakest_by_S'] == sorted(['0', '1'], key=lambda c: rows[
        int(c)]['S'])


def test_bad_inputs_give_clear_messages(png_config, work, capsys):
    report = tool('dataset_report')
    # An empty split stops the command.
    assert report.run(report.main, [png_config, '--split', 'val',
                                    '--out-dir', str(work / 'e')]) == 1
    assert 'the val split (CustomDataset) has no samples' in \
        capsys.readouterr().err
    # A split the config does not define.
    assert report.run(report.main, [png_config, '--split', 'test',
                                    '--out-dir', str(work / 'e')]) == 1
    assert 'no test_dataloader.dataset' in capsys.readouterr().err

    # A target size larger than a class: that class is kept whole.
    subset = tool('representative_subset')
    out_dir = str(work / 'big')
    assert subset.run(subset.main, [png_config, '--size', '10', '--k', '2',
                                    '--rounds', '1', '--out-dir',
                                    out_dir]) == 0
    err = capsys.readouterr().err
    assert "class '1' has 8 samples, fewer than the target size 10" in err
    assert "class '2' has 1 samples" in err
    res = load_json(osp.join(out_dir, 'representative_subset.json'))
    assert [res['classes'][c]['kept'] for c in '012'] == [10, 8, 1]

    # Too few samples for the stopping rule: reported, others go on.
    stop = tool('collection_stop')
    out_dir = str(work / 'stop')
    assert stop.run(stop.main, [png_config, '--step', '5', '--out-dir',
                                out_dir]) == 0
    assert "class '2' has 1 samples, fewer than two steps" in \
        capsys.readouterr().err
    res = load_json(osp.join(out_dir, 'collection_stop.json'))
    assert len(res['classes']['0']['counts']) == 2

    marginal = tool('marginal_effect')
    assert marginal.run(marginal.main, [png_config, '--classes', 'cat',
                                        '--out-dir', str(work / 'm')]) == 1
    assert "unknown class 'cat'" in capsys.readouterr().err
