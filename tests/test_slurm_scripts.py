"""tools/slurm_train.sh and tools/slurm_test.sh build OpenMMLab's srun
command line. A stand-in ``srun`` first on PATH records its arguments and
environment instead of submitting a job."""
import importlib.util
import os
import os.path as osp
import subprocess

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(ROOT, 'tools')

FAKE_SRUN = """#!/usr/bin/env bash
printf '%s\\0' "$@" > "$SRUN_RECORD"
printf '%s' "$PYTHONPATH" > "$SRUN_RECORD.pythonpath"
"""


@pytest.fixture
def srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'srun'
    fake.write_text(FAKE_SRUN)
    fake.chmod(0o755)
    record = tmp_path / 'srun_args'

    def run(script, *args, **env_vars):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK',
                         'SRUN_ARGS', 'PYTHON', 'PYTHONPATH')
        }
        env.update(PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}',
                   SRUN_RECORD=str(record), **env_vars)
        if record.exists():
            record.unlink()
        proc = subprocess.run(['bash', osp.join(TOOLS, script), *args],
                              env=env, capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)
        called = record.exists()
        argv = record.read_text().split('\0')[:-1] if called else None
        pythonpath = (tmp_path / 'srun_args.pythonpath').read_text() \
            if called else None
        return proc, argv, pythonpath

    return run


def test_train_command_line(srun):
    proc, argv, pythonpath = srun(
        'slurm_train.sh', 'gpu-part', 'dsb run', 'configs/my dsb.py',
        'work_dirs/dsb', '--resume', '--cfg-options', 'a=1', 'b=x y',
        GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='4',
        SRUN_ARGS='--quotatype=auto --exclusive', PYTHONPATH='/opt/extra')
    assert proc.returncode == 0, proc.stderr
    assert argv == [
        '-p', 'gpu-part', '--job-name=dsb run', '--gres=gpu:8',
        '--ntasks=16', '--ntasks-per-node=8', '--cpus-per-task=4',
        '--kill-on-bad-exit=1', '--quotatype=auto', '--exclusive', 'python',
        '-u',
        osp.join(TOOLS, 'train.py'), 'configs/my dsb.py',
        '--work-dir=work_dirs/dsb', '--launcher=slurm', '--resume',
        '--cfg-options', 'a=1', 'b=x y'
    ]
    # The checkout comes first, so the tasks import its mmdsb.
    assert pythonpath == f'{TOOLS}/..:/opt/extra'


def test_test_command_line_and_defaults(srun):
    proc, argv, pythonpath = srun('slurm_test.sh', 'p', 'j', 'cfg.py',
                                  'epoch_1.pth', '--out', 'r.pkl',
                                  PYTHON='/usr/bin/python3')
    assert proc.returncode == 0, proc.stderr
    # OpenMMLab's defaults: 8 GPUs on one node, 5 CPUs per task.
    assert argv == [
        '-p', 'p', '--job-name=j', '--gres=gpu:8', '--ntasks=8',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '/usr/bin/python3', '-u',
        osp.join(TOOLS, 'test.py'), 'cfg.py', 'epoch_1.pth',
        '--launcher=slurm', '--out', 'r.pkl'
    ]
    assert pythonpath == f'{TOOLS}/..'


def test_fewer_gpus_than_a_node_set_the_tasks_per_node(srun):
    _, argv, _ = srun('slurm_train.sh', 'p', 'j', 'cfg.py', 'wd', GPUS='2')
    assert '--ntasks=2' in argv and '--ntasks-per-node=2' in argv
    assert '--gres=gpu:2' in argv


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
@pytest.mark.parametrize('nargs', [0, 3])
def test_missing_arguments_print_usage(srun, script, nargs):
    proc, argv, _ = srun(script, *['x'] * nargs)
    assert proc.returncode == 2
    assert 'usage:' in proc.stderr and 'PARTITION JOB_NAME CONFIG' in \
        proc.stderr
    assert argv is None  # srun never ran


@pytest.mark.parametrize('name,value', [('GPUS', 'eight'),
                                        ('GPUS_PER_NODE', '0'),
                                        ('CPUS_PER_TASK', '-1')])
def test_bad_counts_are_named(srun, name, value):
    proc, argv, _ = srun('slurm_train.sh', 'p', 'j', 'cfg.py', 'wd',
                         **{name: value})
    assert proc.returncode == 2
    assert f'{name} must be a positive integer' in proc.stderr
    assert argv is None


def _load_tool(name):
    # Under their own module names: 'test' is also a standard library
    # package.
    spec = importlib.util.spec_from_file_location(
        f'mmdsb_tools_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools_accept_the_slurm_launcher(monkeypatch):
    monkeypatch.syspath_prepend(TOOLS)  # the tools import _launch
    monkeypatch.setenv('LOCAL_RANK', '0')
    train, test = _load_tool('train'), _load_tool('test')
    args = train.parse_args(
        ['cfg.py', '--work-dir=work_dirs/dsb', '--launcher=slurm'])
    assert (args.launcher, args.work_dir) == ('slurm', 'work_dirs/dsb')
    args = test.parse_args(['cfg.py', 'epoch_1.pth', '--launcher=slurm'])
    assert (args.launcher, args.checkpoint) == ('slurm', 'epoch_1.pth')
