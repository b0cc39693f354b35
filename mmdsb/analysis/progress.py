"""Progress output that reads well in a terminal and in a log file.

mmengine's ``ProgressBar`` redraws one line with ``\\r``; written to a file
or a CI log, its updates pile up into one long ``\\r``-joined line. On a
terminal the analysis commands keep that bar; elsewhere they print one plain
line each time another tenth of the work is done.
"""
import sys
import time
from typing import Optional, TextIO

from mmengine.utils import ProgressBar


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


class TerminalProgress:
    """mmengine's ``ProgressBar``, ended by a newline on :meth:`finish`."""

    def __init__(self, total: int, file: TextIO):
        self.file = file
        self.bar = ProgressBar(total, file=file)

    def update(self, num_tasks: int = 1) -> None:
        self.bar.update(num_tasks)

    def finish(self) -> None:
        self.file.write('\n')
        self.file.flush()


class LineProgress:
    """Plain lines ``LABEL: DONE/TOTAL (P%), Ts`` at every ``step`` of the
    work (10% by default) and at its end, never more than one per update.

    Args:
        total (int): Number of tasks; ``<= 0`` prints a count at the end.
        file (TextIO): Stream written to.
        label (str): What is counted, e.g. ``'samples'``.
        step (float): Fraction of ``total`` between two lines, in (0, 1].
    """

    def __init__(self, total: int, file: TextIO, label: str = 'progress',
                 step: float = 0.1):
        if not 0 < step <= 1:
            raise ValueError(f'step must be in (0, 1], got {step!r}')
        self.total, self.file, self.label, self.step = (int(total), file,
                                                        label, step)
        self.completed = 0
        self._printed_mark = 0  # multiples of step already printed
        self._done = False
        self._start = time.perf_counter()

    def _write(self) -> None:
        elapsed = time.perf_counter() - self._start
        if self.total > 0:
            pct = 100 * self.completed / self.total
            text = (f'{self.label}: {self.completed}/{self.total} '
                    f'({pct:.0f}%), {elapsed:.1f}s')
        else:
            text = f'{self.label}: {self.completed}, {elapsed:.1f}s'
        self.file.write(text + '\n')
        self.file.flush()

    def update(self, num_tasks: int = 1) -> None:
        self.completed += num_tasks
        if self.total <= 0:
            return
        if self.completed >= self.total:
            self._printed_mark = round(1 / self.step)
            self._done = True
            self._write()
            return
        # Integer tenths (for step 0.1) reached so far; exact for integers.
        mark = int(self.completed / self.total / self.step + 1e-9)
        if mark > self._printed_mark:
            self._printed_mark = mark
            self._write()

    def finish(self) -> None:
        """Print the final count unless the last update already did."""
        if not self._done:
            self._done = True
            self._write()


def progress_bar(total: int, label: str = 'progress',
                 file: Optional[TextIO] = None):
    """A progress display on ``file`` (default: the current ``sys.stderr``):
    mmengine's bar on a terminal, :class:`LineProgress` otherwise. Call
    ``update(n)`` as tasks complete and ``finish()`` once at the end."""
    file = sys.stderr if file is None else file
    if _is_tty(file):
        return TerminalProgress(total, file)
    return LineProgress(total, file, label=label)
