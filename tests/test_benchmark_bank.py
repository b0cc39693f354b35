"""Smoke test of tools/analysis_tools/benchmark_bank.py at a tiny size: the
incremental and the naive paths it times must give the same weights."""
import importlib.util
import os.path as osp

import pytest
import torch

SCRIPT = osp.join(
    osp.dirname(__file__), '..', 'tools', 'analysis_tools',
    'benchmark_bank.py')

TINY = dict(
    name='tiny', num_classes=12, pool=400, batch=16, max_count=80,
    min_count=3)


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_bank', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('key', ['imagenet-lt', 'inat2018', 'lvis-v1'])
def test_class_profiles_sum_exactly(bench, key):
    s = bench.SCALES[key]
    counts, gamma = bench.class_counts(s['num_classes'], s['pool'],
                                       s['max_count'], s['min_count'])
    assert counts.numel() == s['num_classes']
    assert int(counts.sum()) == s['pool']
    assert int(counts[0]) == s['max_count']
    assert int(counts[-1]) == s['min_count']
    assert bool((counts[:-1] >= counts[1:]).all())
    # The real profiles fall faster than the plain exponential.
    assert 0 < gamma < 1


def test_lvis_scale_is_one_epoch_of_lvis_v1_instances(bench):
    s = bench.SCALES['lvis-v1']
    # LVIS v1 train: 1,270,141 instances of 1203 classes in 100,170
    # images; a global batch of 16 images holds 16 * 12.68 = 203.
    assert (s['num_classes'], s['pool']) == (1203, 1270141)
    assert s['batch'] == round(16 * 1270141 / 100170)
    assert 'lvis-v1' in bench.parse_args([]).scales


def test_class_profile_rejects_impossible_total(bench):
    with pytest.raises(ValueError):
        bench.class_counts(10, 50, 100, 5)


@pytest.mark.parametrize('loop_classes', [1000, 5])
def test_incremental_and_naive_paths_agree(bench, capsys, loop_classes):
    res = bench.benchmark_scale(
        TINY,
        iters=3,
        device=torch.device('cpu'),
        warmup=1,
        loop_iters=1,
        loop_classes=loop_classes,
        verbose=False)
    assert res['same_pool']
    assert res['max_rel_diff'] < 1e-9
    assert res['loop_diff'] < 1e-9
    assert res['loop_full'] == (loop_classes >= TINY['num_classes'])
    assert len(res['t_inc']) == len(res['t_naive']) == 3
    assert all(t > 0 for t in res['t_inc'] + res['t_naive'])
    assert res['t_loop'] > 0 and res['bank_mib'] > res['feats_mib'] > 0
    bench.print_scale(res)
    bench.print_summary([res, res])
    out = capsys.readouterr().out
    assert '(a) incremental' in out and '(b) naive' in out
    assert ('EXTRAPOLATED' in out) == (not res['loop_full'])


def test_train_step_runs(bench, capsys):
    res = bench.benchmark_train_step(
        TINY,
        torch.device('cpu'),
        batch=2,
        img_size=32,
        iters=1,
        warmup=1,
        rounds=1,
        verbose=False)
    assert res['ips']['plain'] > 0 and res['ips']['DSB'] > 0
    bench.print_train(res)
    assert 'throughput DSB / plain' in capsys.readouterr().out
