"""A non-finite training loss stops the run (or the step is skipped) in
the real Runner, and repeated DSB warnings are counted per epoch."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModule
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from torch import nn

from mmdsb.engine import InvalidLossHook
from test_dsb_hook import ITERS_PER_EPOCH, digits_cfg, read_log


class PoisonOutput(Hook):
    """Turns the output of a submodule of the model to NaN in the given
    iterations (0-based), and keeps the head's weights of every
    iteration."""
    priority = 'HIGHEST'

    def __init__(self, module: str, iters):
        self.module, self.iters = module, set(iters)
        self.fc_weights = []

    def before_train(self, runner):
        module = runner.model.get_submodule(self.module)
        module.register_forward_hook(self._poison)
        self._runner = runner

    def _poison(self, module, args, output):
        if self._runner.iter not in self.iters or not module.training:
            return output
        if isinstance(output, tuple):
            return tuple(o * float('nan') for o in output)
        return output * float('nan')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.fc_weights.append(runner.model.head.fc.weight.detach().clone())


def test_nan_loss_stops_the_run_naming_iteration_and_terms(tmp_path):
    cfg = digits_cfg(tmp_path, max_epochs=2)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(PoisonOutput('head.fc', iters=[13]))
    with pytest.raises(RuntimeError,
                       match=r'not finite at iteration 14 \(epoch 2, batch '
                       r'3\) on this rank: loss=nan'):
        runner.train()


def test_skip_leaves_out_the_steps_and_counts_them(tmp_path):
    cfg = digits_cfg(tmp_path, max_epochs=2)
    cfg.default_hooks.invalid_loss = dict(type='InvalidLossHook',
                                          action='skip')
    runner = Runner.from_cfg(cfg)
    # NaN pre-logits: the loss is NaN and DSB keeps the batch out of the
    # bank.
    poison = PoisonOutput('neck', iters=[2, 5, 13])
    runner.register_hook(poison)
    runner.train()
    weights = poison.fc_weights
    for i in (2, 5, 13):  # a skipped step leaves the weights as they were
        assert torch.equal(weights[i], weights[i + 1])
    assert not torch.equal(weights[3], weights[4])
    assert torch.isfinite(runner.model.head.fc.weight).all()
    log = read_log(runner)
    assert log.count('the step is skipped') == 1
    assert ('InvalidLossHook skipped 2 steps with a non-finite loss in '
            'epoch 1 (2 in all)') in log
    assert ('InvalidLossHook skipped 1 steps with a non-finite loss in '
            'epoch 2 (3 in all)') in log
    # The NaN features were kept out of the bank, once in full in the log
    # and counted per epoch: 3 batches of 32 (the epoch has 11 iterations).
    assert ITERS_PER_EPOCH == 11
    assert log.count('are NaN or inf; they are kept out') == 1
    assert ('DSB [head] since the last summary: 2 batches had 64 NaN or '
            'inf features') in log
    assert ('DSB [head] since the last summary: 1 batches had 32 NaN or '
            'inf features') in log
    # The bank misses 64 samples after epoch 1, so it fills on in epoch 2
    # (278 + 2 batches of 32 = 342 after iteration 13).
    assert 'stage 2 starts at epoch 2, iteration 14' in log


@MODELS.register_module()
class ConvBNNet(BaseModule):
    """The smallest backbone with BatchNorm: one convolution, BN, ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return (torch.relu(self.bn(self.conv(x))), )


CONV_BN_BANK = dict(type='SemanticScaleWeighter', bank_dim=8)


def conv_bn_cfg(tmp_path, max_epochs=2, **skip_kwargs):
    cfg = digits_cfg(tmp_path, max_epochs=max_epochs, weighter=CONV_BN_BANK)
    cfg.model.backbone = dict(type='ConvBNNet')
    cfg.model.head.in_channels = 8
    cfg.default_hooks.invalid_loss = dict(type='InvalidLossHook',
                                          action='skip', **skip_kwargs)
    return cfg


def test_skip_restores_what_the_forward_pass_changed(tmp_path):
    # A NaN input image: the skipped forward pass has already moved BN's
    # running statistics (and its batch count) before the loss is seen.
    runner = Runner.from_cfg(conv_bn_cfg(tmp_path))
    poison = PoisonOutput('backbone.conv', iters=[4])
    runner.register_hook(poison)
    bn = runner.model.backbone.bn
    states = []
    runner.register_hook(BufferRecorder(bn, states))
    runner.train()
    # The step with the NaN image leaves BN as it was; the others move it.
    assert all(torch.equal(a, b) for a, b in zip(states[4], states[5]))
    assert not torch.equal(states[5][0], states[6][0])
    for name, t in runner.model.state_dict().items():
        assert torch.isfinite(t.float()).all(), name
    saved = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    for name, t in saved['state_dict'].items():
        assert torch.isfinite(t.float()).all(), name
    assert 'the step is skipped' in read_log(runner)


class BufferRecorder(Hook):
    """Copies the given module's buffers before every iteration and after
    the last."""
    priority = 'LOWEST'

    def __init__(self, module, states):
        self.module, self.states = module, states

    def _copy(self):
        self.states.append([b.clone() for b in self.module.buffers()])

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._copy()

    def after_train(self, runner):
        self._copy()


class BreakWeights(Hook):
    """Sets a parameter to NaN before the given iteration (0-based)."""
    priority = 'LOWEST'

    def __init__(self, name, at):
        self.name, self.at = name, at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            with torch.no_grad():
                runner.model.get_parameter(self.name).fill_(float('nan'))


def test_skip_stops_when_the_model_itself_is_broken(tmp_path):
    # Every later loss is NaN; skipping would run to the end with a NaN
    # classifier and save it.
    runner = Runner.from_cfg(conv_bn_cfg(tmp_path))
    runner.register_hook(BreakWeights('head.fc.weight', at=3))
    with pytest.raises(RuntimeError, match=r'not finite at iteration 4 and '
                       r'the model itself holds NaN or infinite values '
                       r'\(head.fc.weight\)'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))


def test_skip_stops_after_too_many_steps_in_a_row(tmp_path):
    runner = Runner.from_cfg(conv_bn_cfg(tmp_path, max_consecutive_skips=3))
    runner.register_hook(PoisonOutput('backbone.conv', iters=[1, 3, 4, 5]))
    with pytest.raises(RuntimeError, match=r'3 training steps in a row had '
                       r'a non-finite loss \(the last at iteration 6\)'):
        runner.train()


def test_no_checkpoint_with_non_finite_buffers(tmp_path):
    # BN's running variance turns NaN with a finite loss (training uses
    # batch statistics): the checkpoint is refused, naming the buffer.
    cfg = digits_cfg(tmp_path, max_epochs=1, weighter=CONV_BN_BANK)
    cfg.model.backbone = dict(type='ConvBNNet')
    cfg.model.head.in_channels = 8
    runner = Runner.from_cfg(cfg)
    runner.register_hook(BreakBuffer())
    with pytest.raises(RuntimeError, match=r'backbone.bn.running_var\); no '
                       'checkpoint is saved'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))


class BreakBuffer(Hook):
    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        runner.model.backbone.bn.running_var.fill_(float('nan'))


def test_bad_action():
    with pytest.raises(ValueError, match="'raise' or 'skip'"):
        InvalidLossHook(action='ignore')
    with pytest.raises(ValueError, match='max_consecutive_skips'):
        InvalidLossHook(action='skip', max_consecutive_skips=0)
