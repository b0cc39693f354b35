"""tools/analysis_tools/benchmark_bank.py at a tiny size: its class profiles
and the agreement of the incremental and the recomputed weights it times."""
import importlib.util
import os.path as osp

import pytest
import torch

SCRIPT = osp.join(
    osp.dirname(__file__), '..', 'tools', 'analysis_tools',
    'benchmark_bank.py')

TINY = dict(
    name='tiny', num_classes=60, pool=1200, batch=16, max_count=80,
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
    assert (s['num_classes'], s['pool'], s['batch']) == (1203, 1270141, 203)
    assert 'lvis-v1' in bench.parse_args([]).scales


def test_class_profile_rejects_impossible_total(bench):
    with pytest.raises(ValueError, match='cannot follow'):
        bench.class_counts(10, 50, 100, 5)


def test_incremental_and_recomputed_weights_agree(bench, capsys):
    res = bench.benchmark_scale(TINY, iters=4, device=torch.device('cpu'),
                                warmup=1)
    # Float32 distances (FeatureBank docs), and not identical: the check
    # compares two different computations.
    assert 0 < res['max_rel_diff'] < 1e-6
    assert len(res['t_inc']) == len(res['t_rec']) == 4
    assert all(t > 0 for t in res['t_inc'] + res['t_rec'])
    assert set(res['parts']) == {'push', 'volumes', 'distance sums',
                                 'scales + weights'}
    bench.print_scale(res)
    out = capsys.readouterr().out
    assert '(a) incremental' in out and '(b) recompute' in out
    assert 'target >= 25x' in out and 'limit 1e-06' in out


def test_train_step_runs(bench, capsys):
    res = bench.benchmark_train_step(
        TINY, torch.device('cpu'), batch=2, img_size=32, iters=1, warmup=1)
    assert res['ips']['plain'] > 0 and res['ips']['DSB'] > 0
    bench.print_train(res)
    assert 'throughput DSB / plain' in capsys.readouterr().out


def test_command_line(bench):
    args = bench.parse_args(['--scales', 'inat2018', '--threads', '2',
                             '--iters', '3', '--train-step'])
    assert args.scales == ['inat2018'] and args.threads == 2
    assert args.train_step and args.train_scales == ['imagenet-lt',
                                                     'inat2018']
    with pytest.raises(SystemExit):
        bench.parse_args(['--scales'])
