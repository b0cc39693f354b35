"""Warnings that are said once in full and counted every time."""
from collections import Counter
from typing import Callable, Dict, Union

import torch
from mmengine.logging import print_log
from torch import Tensor

__all__ = ['WarningCounts']


class WarningCounts:
    """Counts of recurring warnings, kept where they arise.

    A count may be a device tensor (added to without reading it on the
    host, so that a GPU step is not stopped for it); :meth:`pop` reads all
    of them at once. Each warning is logged in full the first time only;
    the owner logs the counts once per summary.
    """

    def __init__(self):
        self.counts: Counter = Counter()
        self._pending: Dict[str, Tensor] = {}
        self._said = set()

    def add(self, key: str, value: Union[int, Tensor]) -> None:
        """Add ``value`` to a count (a tensor may hold one count per
        class: the entries are kept apart until :meth:`pop`)."""
        if isinstance(value, Tensor):
            value = value.long()
            pending = self._pending.get(key)
            self._pending[key] = value if pending is None else \
                pending + value
        else:
            self.counts[key] += value

    def say_once(self, key: str, message: str) -> None:
        """Log ``message`` the first time ``key`` occurs."""
        if key not in self._said:
            self._said.add(key)
            print_log(message + ' (said once; DSBHook counts later '
                      'occurrences per epoch)', logger='current', level=30)

    def read_pending(self) -> Dict[str, Tensor]:
        """The device counts as CPU tensors (one host read), then reset."""
        if not self._pending:
            return {}
        keys = list(self._pending)
        flat = torch.cat([self._pending[k].reshape(-1) for k in keys]).cpu()
        sizes = [self._pending[k].numel() for k in keys]
        self._pending = {}
        return {
            k: part.reshape(-1) if n > 1 else part.reshape(())
            for k, part, n in zip(keys, torch.split(flat, sizes), sizes)
        }

    def pop(self, say: Callable[[Dict[str, Tensor]], None]) -> Counter:
        """Read the device counts, let ``say`` log first occurrences from
        them, and return all counts since the last call (then reset)."""
        pending = self.read_pending()
        say(pending)
        for key, value in pending.items():
            if value.dim() == 0:
                self.counts[key] += int(value)
        counts, self.counts = self.counts, Counter()
        return counts
