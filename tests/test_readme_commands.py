"""Every command of the ```shell blocks of README.md and of the pages
under docs/ runs as written, or is listed in NOT_RUN with the reason it
cannot run here.

The commands run in page order (README.md first, then docs/*.md by name),
each command once, in a scratch folder that mirrors the
repository (``tools``, ``mmdsb`` and each ``configs`` entry linked, so the
commands' ``work_dirs/`` land there), with this checkout's mmdsb. The only
changes are visible below: SHORTER appends options that cut the training to
one or two epochs (and fewer images), and CHECKPOINTS renames
the checkpoints the README names after the full schedules. The quick
start's classification demo runs in full (under a minute of training), and
the accuracy table it prints must be the one the README shows. A ```python
block whose first line is a comment naming a ``.py`` file (the "Adding DSB"
config) is written to that path first, as a reader would save it.
"""
import glob
import importlib.util
import os
import os.path as osp
import re
import shlex
import socket
import subprocess
import sys
import textwrap

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(REPO, 'README.md')
# The pages whose commands run, in this order: the README's quick start
# writes the demo checkpoints that the docs' analysis commands read.
PAGES = [README] + sorted(glob.glob(osp.join(REPO, 'docs', '*.md')))

# Commands that cannot run here, with the reason (exact text after joining
# continued lines and dropping comments).
NOT_RUN = {
    'bash tools/install.sh': 'installs the stack (done before the tests)',
    'bash tools/install.sh --det': 'installs the stack',
    'bash tools/install.sh --tests --det': 'installs the stack',
    'FORCE_CUDA=1 bash tools/install.sh --det': 'needs nvcc and a GPU',
    'pip install --no-deps --no-build-isolation .':
    'replaces the installed mmdsb (tests/test_installed_package.py installs '
    'it into a fresh environment)',
    'pip install --no-deps -e .': 'replaces the installed mmdsb',
    'MMCV_BASE_URL=file:///nonexistent mim install --no-deps '
    '--no-build-isolation .': 'replaces the installed mmdsb (see '
    'tests/test_installed_package.py)',
    'mim train mmdsb configs/demo/dsb_lenet5_digits-lt.py --work-dir '
    'work_dirs/mim_demo': 'needs a normal install of mmdsb (see '
    'tests/test_installed_package.py)',
    'mim test mmdsb configs/demo/dsb_lenet5_digits-lt.py --checkpoint '
    'work_dirs/mim_demo/epoch_40.pth': 'needs a normal install of mmdsb',
    'GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh my-partition dsb-inlt '
    'configs/dsb_resnext50_imagenet-lt.py '
    'work_dirs/dsb_resnext50_imagenet-lt': 'needs a Slurm cluster',
    'GPUS=8 bash tools/slurm_test.sh my-partition dsb-inlt-test '
    'configs/dsb_resnext50_imagenet-lt.py '
    'work_dirs/dsb_resnext50_imagenet-lt/epoch_90.pth':
    'needs a Slurm cluster',
    'python -m pytest tests -q': 'the test suite, this test included',
    'python -m pytest tests -m "not slow" -q':
    'the test suite, this test included',
    'bash tools/dist_train.sh configs/dsb_resnext50_imagenet-lt.py 8':
    'needs ImageNet-LT and 8 GPUs',
    'bash tools/dist_train.sh configs/dsb_resnext50_imagenet-lt.py 8 --resume':
    'needs ImageNet-LT and 8 GPUs',
    'bash tools/dist_train.sh configs/imagenet-lt/'
    'ride-6experts_resnext50_imagenet-lt.py 8':
    'needs ImageNet-LT and 8 GPUs (tests/test_configs.py trains the config '
    'on a fixture)',
    'bash tools/dist_train.sh configs/imagenet-lt/'
    'ride-distill_resnext50_imagenet-lt.py 8':
    'needs ImageNet-LT, the teacher and 8 GPUs (tests/test_configs.py '
    'trains the config on a fixture)',
    'bash tools/dist_test.sh configs/dsb_resnext50_imagenet-lt.py CKPT 8':
    'needs ImageNet-LT, a trained checkpoint and 8 GPUs',
    'NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh '
    'configs/dsb_resnext50_imagenet-lt.py 8': 'needs a cluster of two nodes',
    'wget -P checkpoints http://data.lip6.fr/cadene/pretrainedmodels/'
    'bn_inception-52deb4733.pth': 'downloads the ImageNet checkpoint',
    'python tools/train.py configs/metric-learning/'
    'dsb-st_bn-inception-64_cub.py': 'needs CUB-200-2011 and the ImageNet '
    'checkpoint (tests/test_dml_configs.py trains every metric-learning '
    'config on fixtures)',
    'python tools/test.py configs/metric-learning/'
    'dsb-st_bn-inception-64_cub.py '
    'work_dirs/dsb-st_bn-inception-64_cub/epoch_50.pth':
    'needs CUB-200-2011 and a trained checkpoint',
    'python tools/analysis_tools/benchmark_bank.py --iters 10 --threads 2':
    'a benchmark at full scale for an idle machine (minutes; '
    'tests/test_benchmark_bank.py runs it at a small scale)',
    'python tools/analysis_tools/benchmark_bank.py --scales --train-step':
    'trains ResNeXt-50 steps for a GPU measurement (tests/'
    'test_benchmark_bank.py runs the step at a small scale)',
    'python tools/analysis_tools/compare_bank_policies.py --seeds 0 1 2':
    'eighteen full training runs of the two demos (over an hour on two '
    'cores); tests/test_compare_bank_policies.py runs its short form',
    'python tools/analysis_tools/compare_ride_banks.py --seeds 0 1 2 3 4':
    'twenty 40-epoch training runs of a small RIDE (about ten minutes on two '
    'cores); tests/test_ride.py and tests/test_table2_training.py train its '
    'configs for two epochs',
    'python -m pytest tests/test_dml_datasets.py -q':
    'a part of the test suite',
    'python tools/analysis_tools/benchmark_retrieval_memory.py --n 24000':
    'a memory measurement for an idle machine (the full similarity matrix '
    'at N = 8000 takes 1.5 GB; tests/test_retrieval_metric.py measures the '
    'blocked search at N = 24000)',
    'python tools/train.py configs/gcl/gcl_resnet32_cifar10-lt-r100_stage1.py':
    'needs the CIFAR-10 python archive under data/cifar10',
    'python tools/train.py configs/gcl/gcl_resnet32_cifar10-lt-r100_stage2.py':
    'needs the CIFAR-10 python archive and the stage-1 checkpoint',
}

# Options appended to the commands that train (program, options).
SHORTER = (
    ('python tools/demo_det.py', '--epochs 1 --num-train 16 --num-val 8'),
    ('python tools/train.py', '--cfg-options train_cfg.max_epochs=1'),
    ('bash tools/dist_train.sh', '--cfg-options train_cfg.max_epochs=1'),
    # ResNet-18 on CPU: a few batches of the digits.
    ('python tools/train.py my_dsb_resnet18_digits-lt.py',
     '--cfg-options train_dataloader.dataset.indices=64 '
     'val_dataloader.dataset.indices=100'),
)
# The last checkpoints of those shortened runs (the quick start's
# classification demo runs in full: its epoch_40.pth stays).
CHECKPOINTS = (
    ('work_dirs/dsb_lenet5_digits-lt/epoch_40.pth',
     'work_dirs/dsb_lenet5_digits-lt/epoch_1.pth'),  # tools/train.py
    ('work_dirs/dsb_lenet5_digits-lt_2x16/epoch_40.pth',
     'work_dirs/dsb_lenet5_digits-lt_2x16/epoch_1.pth'),  # dist_train.sh
    ('work_dirs/demo_det/ce/epoch_24.pth',
     'work_dirs/demo_det/ce/epoch_1.pth'),
)

# '# my_config.py' or '# my_config.py, in any folder' opening a block.
CONFIG_FILE = re.compile(r'#\s*(\S+\.py)\b.*')


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def readme():
    return read(README)


def blocks(text, lang):
    """Contents of the fenced blocks of one language, in order, dedented
    (a block may be indented, e.g. inside a list item)."""
    found = re.findall(rf'^([ \t]*)```{lang}[ \t]*\n(.*?)^\1```', text,
                       re.S | re.M)
    return [textwrap.dedent(body) for _, body in found]


def commands(block):
    """The commands of a shell block: continued lines joined, comments
    dropped, ``&&`` / ``;`` chains split; each as its normalised text."""
    found = []
    for line in block.replace('\\\n', ' ').splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = '#'
        current = []
        for token in list(lexer) + ['&&']:
            if token in ('&&', ';'):
                if current:
                    found.append(shlex.join(current))
                current = []
            elif token in ('|', '||', '&', '>', '<', '>>', '(', ')'):
                raise AssertionError(
                    f'README command with {token!r} is beyond this test: '
                    f'{line.strip()}')
            else:
                current.append(token)
    return found


def listed():
    """NOT_RUN with its commands written as :func:`commands` gives them."""
    return {commands(cmd)[0]: reason for cmd, reason in NOT_RUN.items()}


def page_commands():
    """``[(page, command)]``: the commands of every page in PAGES, each
    once (where it first appears), in order."""
    seen, ordered = set(), []
    for page in PAGES:
        for block in blocks(read(page), 'shell'):
            for cmd in commands(block):
                if cmd not in seen:
                    seen.add(cmd)
                    ordered.append((osp.relpath(page, REPO), cmd))
    return ordered


def readme_commands():
    """The commands of README.md and the docs pages, each once."""
    return [cmd for _, cmd in page_commands()]


def shortened(cmd):
    for program, options in SHORTER:
        if cmd == program or cmd.startswith(program + ' '):
            cmd = f'{cmd} {options}'
    for old, new in CHECKPOINTS:
        cmd = cmd.replace(old, new)
    return cmd


def config_files():
    """``{path: text}`` of the python blocks that open with ``# path.py``."""
    files = {}
    for page in PAGES:
        for block in blocks(read(page), 'python'):
            first = block.split('\n', 1)[0]
            match = CONFIG_FILE.fullmatch(first)
            if match:
                assert files.get(match.group(1), block) == block, (
                    f'two different ```python blocks # {match.group(1)}')
                files[match.group(1)] = block
    return files


def test_every_readme_command_is_run_or_listed():
    """Cheap check, in the fast subset: the README and the docs pages
    still hold every listed command (the list does not go stale) and each
    substitution applies."""
    assert len(PAGES) > 1, 'no docs/*.md page found'
    cmds = readme_commands()
    assert any(page == 'README.md' for page, _ in page_commands()), \
        'no ```shell block found in README.md'
    missing = set(listed()) - set(cmds)
    assert not missing, ('NOT_RUN names commands that README.md and docs/ '
                         f'lost: {missing}')
    run = [c for c in cmds if c not in listed()]
    for program, _ in SHORTER:
        assert any(c.startswith(program) for c in run), program
    for old, _ in CHECKPOINTS:
        assert any(old in c for c in run), old
    # A .py file a command names that the repository lacks (and no earlier
    # command writes into work_dirs/) is one the README tells the reader to
    # write: a python block names it.
    files = config_files()
    for cmd in run:
        for path in shlex.split(cmd):
            if (path.endswith('.py') and not path.startswith('work_dirs/')
                    and not osp.exists(osp.join(REPO, path))):
                assert path in files, f'{cmd}: no ```python block # {path}'


def test_indented_blocks_are_found():
    text = ('- item:\n\n  ```shell\n  mkdir -p a && ls a\n  ```\n'
            '```shell\necho b\n```\n')
    cmds = [c for block in blocks(text, 'shell') for c in commands(block)]
    assert cmds == ['mkdir -p a', 'ls a', 'echo b']


def test_commands_parse_as_a_shell_would():
    block = ('bash a.sh --x && python b.py \\\n    --y "1 2"  # note\n'
             '# a comment line\nA=1 python c.py key="[a,b]"\n')
    assert commands(block) == [
        'bash a.sh --x', "python b.py --y '1 2'",
        "A=1 python c.py 'key=[a,b]'"
    ]


DEMO = 'python tools/demo.py'


def demo_table(text):
    """The accuracy rows of ``tools/demo.py``'s output (header, CE,
    DSB-CE), white space folded."""
    lines = [' '.join(line.split()) for line in text.splitlines()]
    start = lines.index('method overall many medium few')
    return lines[start:start + 3]


def test_demo_table_is_found():
    text = ('x\n```\nmethod    overall     many   medium      few\n'
            'CE          88.00   100.00    97.00    78.40\n'
            'DSB-CE      89.80   100.00    97.00    82.00\n```\n')
    assert demo_table(text)[1:] == ['CE 88.00 100.00 97.00 78.40',
                                    'DSB-CE 89.80 100.00 97.00 82.00']
    assert DEMO in readme_commands()
    assert demo_table(readme())[1].startswith('CE ')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def mirror(root):
    """A folder that looks like the repository to the README commands."""
    for name in ('tools', 'mmdsb'):
        os.symlink(osp.join(REPO, name), root / name)
    (root / 'configs').mkdir()
    for name in os.listdir(osp.join(REPO, 'configs')):
        os.symlink(osp.join(REPO, 'configs', name), root / 'configs' / name)
    for path, text in config_files().items():
        target = root / path
        if not target.exists():  # never through a link into the checkout
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec('mmdet') is None,
                    reason='the detection commands need mmdet (install.sh '
                    '--det)')
def test_readme_commands_run(tmp_path):
    mirror(tmp_path)
    env = dict(
        os.environ,
        # This checkout's mmdsb and `python`, whatever else is installed.
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
        PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
        MPLBACKEND='Agg',
        OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'),
        PORT=free_port())
    not_run = listed()
    for page, cmd in page_commands():
        if cmd in not_run:
            continue
        run = shortened(cmd)
        proc = subprocess.run(
            ['bash', '-c', run],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600)
        assert proc.returncode == 0, (f'{page} command failed: {cmd}\nran: '
                                      f'{run}\n{proc.stdout[-4000:]}')
        if cmd == DEMO:
            assert demo_table(proc.stdout) == demo_table(readme()), (
                'README.md shows another table than tools/demo.py prints:\n'
                + proc.stdout[-3000:])
