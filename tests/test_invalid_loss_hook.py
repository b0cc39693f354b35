"""A non-finite training loss stops the run (or the step is skipped) in
the real Runner, and repeated DSB warnings are counted per epoch."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

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


def test_bad_action():
    with pytest.raises(ValueError, match="'raise' or 'skip'"):
        InvalidLossHook(action='ignore')
