"""Stop (or skip) training steps whose loss is NaN or infinite."""
import math
from typing import Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

__all__ = ['InvalidLossHook']


def _any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank, so that all ranks act alike."""
    t = torch.tensor([float(flag)])
    all_reduce(t, op='sum')
    return bool(t.item() > 0)


@HOOKS.register_module()
class InvalidLossHook(Hook):
    """Stops the run at the first non-finite training loss, or skips such
    steps.

    A NaN loss turns the model's weights to NaN at the next optimiser step,
    after which the run would go on to its end at chance accuracy. With
    ``action='raise'`` (default) the run stops with an error naming the
    iteration and every loss term. With ``action='skip'`` the step's
    backward pass and update are left out (on all ranks when one has a
    non-finite loss), the first skip is logged in full and the number of
    skipped steps once per epoch.

    Args:
        action: ``'raise'`` or ``'skip'``.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'raise'):
        if action not in ('raise', 'skip'):
            raise ValueError(
                f"action must be 'raise' or 'skip', got {action!r}")
        self.action = action
        self._skipped_epoch = 0
        self._skipped_total = 0
        self._skip_now = False

    def before_train(self, runner) -> None:
        if self.action != 'skip':
            return
        wrapper = runner.optim_wrapper
        if not isinstance(wrapper, OptimWrapper):
            raise TypeError(
                "InvalidLossHook(action='skip') needs a single OptimWrapper, "
                f'got {type(wrapper).__name__}; use the default '
                "action='raise'")
        update_params = wrapper.update_params
        hook = self

        def checked_update_params(loss, *args, **kwargs):
            hook._skip_now = _any_rank(not bool(torch.isfinite(loss).all()))
            if hook._skip_now:
                return None
            return update_params(loss, *args, **kwargs)

        wrapper.update_params = checked_update_params

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
