"""Stop (or skip) training steps whose loss is NaN or infinite."""
import math
from typing import List, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

__all__ = ['InvalidLossHook']


def _any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank, so that all ranks act alike."""
    t = torch.tensor([float(flag)])
    all_reduce(t, op='sum')
    return bool(t.item() > 0)


def _non_finite(module) -> List[str]:
    """Names of the parameters and buffers of ``module`` with a NaN or
    infinite entry."""
    return [
        name for name, t in (*module.named_parameters(),
                             *module.named_buffers())
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]


def _named(names: List[str]) -> str:
    return ', '.join(names[:5]) + (f' and {len(names) - 5} more'
                                   if len(names) > 5 else '')


@HOOKS.register_module()
class InvalidLossHook(Hook):
    """Stops the run at the first non-finite training loss, or skips such
    steps, and never lets a checkpoint hold non-finite weights.

    A NaN loss turns the model's weights to NaN at the next optimiser step,
    after which the run would go on to its end at chance accuracy. With
    ``action='raise'`` (default) the run stops with an error naming the
    iteration and every loss term. With ``action='skip'`` the step's
    backward pass and update are left out (on all ranks when one has a
    non-finite loss), the first skip is logged in full and the number of
    skipped steps once per epoch.

    What ``skip`` guarantees: after a skipped step the model is exactly as
    before it. The forward pass of a skipped step has already updated the
    buffers (BatchNorm's running statistics would take the NaN of a broken
    image), so the buffers are saved before every step and restored. If
    the parameters or buffers are non-finite all the same (a step with a
    finite loss and an infinite gradient), or ``max_consecutive_skips``
    steps in a row are skipped, skipping cannot recover the run and it
    stops with an error naming the tensors or the steps. With either
    action, a checkpoint is never saved with non-finite parameters or
    buffers: the run stops with an error naming them instead.

    Args:
        action: ``'raise'`` or ``'skip'``.
        max_consecutive_skips: with ``'skip'``, how many steps in a row may
            be skipped before the run stops.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'raise', max_consecutive_skips: int = 10):
        if action not in ('raise', 'skip'):
            raise ValueError(
                f"action must be 'raise' or 'skip', got {action!r}")
        if (isinstance(max_consecutive_skips, bool)
                or int(max_consecutive_skips) != max_consecutive_skips
                or max_consecutive_skips < 1):
            raise ValueError('max_consecutive_skips must be an integer >= 1, '
                             f'got {max_consecutive_skips}')
        self.action = action
        self.max_consecutive_skips = int(max_consecutive_skips)
        self._skipped_epoch = 0
        self._skipped_total = 0
        self._skipped_in_a_row = 0
        self._skip_now = False
        self._buffers: List[torch.Tensor] = []
        self._saved: List[torch.Tensor] = []

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        if self.action != 'skip':
            return
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):
            raise TypeError(
                "InvalidLossHook(action='skip') needs a single OptimWrapper, "
                f'got {type(wrapper).__name__}; use the default '
                "action='raise'")
        model = self._model(runner)
        self._buffers = list(model.buffers())
        update_params = wrapper.update_params
        hook = self

        def checked_update_params(loss, *args, **kwargs):
            hook._skip_now = _any_rank(not bool(torch.isfinite(loss).all()))
            if hook._skip_now:
                hook._undo_forward(runner, model)
                return None
            hook._skipped_in_a_row = 0
            return update_params(loss, *args, **kwargs)

        wrapper.update_params = checked_update_params

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._buffers:
            self._saved = [b.detach().clone() for b in self._buffers]

    def _undo_forward(self, runner, model) -> None:
        """Restore the buffers that the skipped forward pass changed;
        stop where skipping cannot recover the run."""
        with torch.no_grad():
            for buffer, saved in zip(self._buffers, self._saved):
                buffer.copy_(saved)
        self._skipped_in_a_row += 1
        where = f'iteration {runner.iter + 1}'
        bad = _non_finite(model)
        if _any_rank(bool(bad)):
            raise RuntimeError(
                f'the training loss is not finite at {where} and the model '
                'itself holds NaN or infinite values ('
                + (_named(bad) if bad else 'on another rank') +
                "), so InvalidLossHook(action='skip') cannot recover the "
                'run: lower the learning rate or use gradient clipping '
                '(optim_wrapper.clip_grad), and resume from a checkpoint '
                'saved before this')
        if self._skipped_in_a_row >= self.max_consecutive_skips:
            raise RuntimeError(
                f'{self._skipped_in_a_row} training steps in a row had a '
                f'non-finite loss (the last at {where}); '
                "InvalidLossHook(action='skip') stops after "
                f'max_consecutive_skips={self.max_consecutive_skips}: check '
                'the data for broken samples and labels, or lower the '
                'learning rate')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Only the main process saves (Runner.save_checkpoint is
        # master_only), so this check is local: no collective here.
        bad = _non_finite(self._model(runner))
        if bad:
            raise RuntimeError(
                f'the model holds NaN or infinite values at iteration '
                f'{runner.iter} ({_named(bad)}); no checkpoint is saved '
                'with them. Lower the learning rate, check the data for '
                'broken samples, and resume from an earlier checkpoint')

    @staticmethod
    def _terms(outputs: Optional[dict]) -> str:
        """The loss terms of the step (``outputs``: the model's log
        variables), e.g. ``loss=nan, loss_cls=nan``."""
        return ', '.join(
            f'{k}={float(torch.as_tensor(v).detach()):.4g}'
            for k, v in (outputs or {}).items()
            if isinstance(v, (int, float, torch.Tensor))
            and torch.as_tensor(v).numel() == 1)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        where = f'iteration {runner.iter + 1}'
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        if self.action == 'skip':
            if self._skip_now:
                self._skip_now = False
                if not self._skipped_total:
                    runner.logger.warning(
                        f'the training loss is not finite at {where}: '
                        f'{self._terms(outputs)}; the step is skipped (said '
                        'once; skipped steps are counted per epoch)')
                self._skipped_epoch += 1
                self._skipped_total += 1
            return
        loss = (outputs or {}).get('loss')
        bad = loss is not None and not math.isfinite(
            float(torch.as_tensor(loss).detach()))
        if _any_rank(bad):
            raise RuntimeError(
                f'the training loss is not finite at {where} on '
                + ('this rank' if bad else 'another rank') +
                f': {self._terms(outputs)}. Lower the learning rate, check '
                'the data for broken samples and labels, or set '
                "InvalidLossHook(action='skip') in default_hooks.invalid_loss "
                'to skip such steps')

    def after_train_epoch(self, runner) -> None:
        # Iteration-based loops have one "epoch": the whole run.
        if self._skipped_epoch:
            runner.logger.warning(
                f'InvalidLossHook skipped {self._skipped_epoch} steps with a '
                f'non-finite loss in epoch {runner.epoch + 1} '
                f'({self._skipped_total} in all)')
            self._skipped_epoch = 0
