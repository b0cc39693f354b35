"""A file that is not a checkpoint fails with an error naming the file.

Without mmdsb, ``torch.load`` of a text file given as ``load_from``,
``resume`` or an analysis command's checkpoint fails with ``KeyError: 101``
(an empty file with a bare ``EOFError``). The loaders mmdsb's configs and
tools reach are checked here with a tiny module, no training.
"""
import importlib.util
import os.path as osp
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner, load_checkpoint

import mmdsb  # noqa: F401  (registers the checking loader)
from mmdsb.analysis.checkpoint import read_state_dict
from mmdsb.analysis.data import AnalysisError
from mmdsb.compat import NotACheckpointError, check_checkpoint_file

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
DEMO = osp.join(REPO, 'configs', 'demo', 'ce_lenet5_digits-lt.py')
EXPECTED = ('Expected a file written by torch.save, such as the .pth '
            'checkpoints that mmengine saves (CheckpointHook).')


class Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


class NotAllowed:
    """Not on torch's weights_only allow-list."""


def write_bad(folder, kind):
    """A file of ``kind`` that is not a checkpoint, and why not."""
    path = str(folder / f'{kind}.pth')
    if kind == 'text':
        with open(path, 'w') as f:
            f.write('epoch_12.pth\n')
        return path, ('it is neither a zip archive nor a pickle, the '
                      'formats torch.save writes')
    if kind == 'empty':
        open(path, 'wb').close()
        return path, 'the file is empty'
    if kind == 'pickle':  # e.g. the results file of tools/test.py --out
        with open(path, 'wb') as f:
            pickle.dump([{'pred_label': 1}], f)
        return path, 'it is a pickle file, but not one written by torch.save'
    assert kind == 'truncated'
    torch.save(Tiny().state_dict(), path)
    with open(path, 'rb') as f:
        head = f.read(200)
    with open(path, 'wb') as f:
        f.write(head)
    return path, 'it is a damaged or truncated zip archive'


def message(path, reason):
    return f'{path} is not a PyTorch checkpoint: {reason}. {EXPECTED}'


BAD = ['text', 'empty', 'pickle', 'truncated']


@pytest.mark.parametrize('kind', BAD)
def test_mmengine_load_checkpoint(tmp_path, kind):
    path, reason = write_bad(tmp_path, kind)
    with pytest.raises(NotACheckpointError) as info:
        load_checkpoint(Tiny(), path, map_location='cpu')
    assert str(info.value) == message(path, reason)
    assert isinstance(info.value, ValueError)
    # torch's own error stays in the traceback.
    assert info.value.__cause__ is not None


@pytest.mark.parametrize('resume', [False, True])
@pytest.mark.parametrize('kind', ['text', 'empty'])
def test_runner_load_from_and_resume(tmp_path, kind, resume):
    path, reason = write_bad(tmp_path, kind)
    runner = Runner(
        model=Tiny(),
        work_dir=str(tmp_path / 'work'),
        load_from=path,
        resume=resume,
        default_scope='mmengine')
    with pytest.raises(NotACheckpointError, match='is not a PyTorch') as e:
        runner.load_or_resume()
    assert str(e.value) == message(path, reason)


@pytest.mark.parametrize('kind', BAD)
def test_analysis_read_state_dict(tmp_path, kind):
    path, reason = write_bad(tmp_path, kind)
    with pytest.raises(AnalysisError) as info:
        read_state_dict(path)
    assert str(info.value) == message(path, reason)


def test_analysis_command_ends_with_one_line(tmp_path, capsys):
    path, reason = write_bad(tmp_path, 'text')
    spec = importlib.util.spec_from_file_location(
        'analysis_model_report',
        osp.join(TOOLS, 'analysis_tools', 'model_report.py'))
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    rc = report.run(report.main,
                    [DEMO, path, '--out-dir', str(tmp_path / 'out')])
    assert rc == 1
    assert f'error: {message(path, reason)}' in capsys.readouterr().err


def tool(name, monkeypatch):
    """``tools/{name}.py`` as a module (it imports its siblings)."""
    monkeypatch.syspath_prepend(TOOLS)
    spec = importlib.util.spec_from_file_location(
        f'tools_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools_fail_before_building_the_runner(tmp_path, monkeypatch):
    path, reason = write_bad(tmp_path, 'text')
    from mmengine.config import Config
    test = tool('test', monkeypatch)
    with pytest.raises(NotACheckpointError) as info:
        test.merge_args(Config(), test.parse_args([DEMO, path]))
    assert str(info.value) == message(path, reason)
    train = tool('train', monkeypatch)
    with pytest.raises(NotACheckpointError) as info:
        train.merge_args(Config(), train.parse_args([DEMO, '--resume', path]))
    assert str(info.value) == message(path, reason)
    with pytest.raises(NotACheckpointError) as info:
        train.merge_args(
            Config(dict(load_from=path)), train.parse_args([DEMO]))
    assert str(info.value) == message(path, reason)


@pytest.mark.parametrize('legacy', [False, True])
def test_real_checkpoints_still_load(tmp_path, legacy):
    model = Tiny()
    path = str(tmp_path / 'tiny.pth')
    torch.save(
        dict(state_dict=model.state_dict()),
        path,
        _use_new_zipfile_serialization=not legacy)
    check_checkpoint_file(path)
    loaded = Tiny()
    load_checkpoint(loaded, path, map_location='cpu', strict=True)
    torch.testing.assert_close(loaded.fc.weight, model.fc.weight)
    assert read_state_dict(path).keys() == model.state_dict().keys()
    # The backend name mmengine logs is unchanged.
    assert CheckpointLoader._get_checkpoint_loader(path).__name__ == \
        'load_from_local'


@pytest.mark.skipif(
    tuple(int(v) for v in torch.__version__.split('.')[:2]) < (2, 6),
    reason='weights_only is the default from PyTorch 2.6')
def test_other_errors_of_real_checkpoints_are_kept(tmp_path):
    """A checkpoint that weights_only refuses is a checkpoint: torch's
    error, which says how to load it, is not replaced."""
    path = str(tmp_path / 'custom.pth')
    torch.save(dict(state_dict=Tiny().state_dict(), extra=NotAllowed()), path)
    check_checkpoint_file(path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        load_checkpoint(Tiny(), path, map_location='cpu')
