"""Progress of long steps on stderr (``rich``), silenced by ``--quiet``.

Steps are numbered and timed; a step that iterates (images through the RTL,
layers of a benchmark) shows a bar. Results go to stdout, progress to stderr,
so a report can be piped while progress stays on the terminal.
"""

import contextlib
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as _Bar

__all__ = ["Progress"]


class Progress:
    """Numbered, timed steps with notes and bars.

    Parameters
    ----------
    total : int or None
        Steps announced (shown as ``[k/total]``); ``None`` shows ``[k]``.
    quiet : bool
        Print nothing (errors are not progress: they are raised).
    stream : file
        Where to write (default ``sys.stderr``).
    """

    def __init__(self, total=None, *, quiet=False, stream=None):
        self.total = total
        self.quiet = quiet
        self._console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self._step = 0
        self._started = time.monotonic()

    @property
    def elapsed(self):
        """Seconds since this object was made."""
        return time.monotonic() - self._started

    def note(self, text):
        """One line of detail under the current step."""
        if not self.quiet:
            self._console.print(f"      {text}", markup=False)

    @contextlib.contextmanager
    def step(self, what):
        """A numbered step: announced on entry, its duration printed on exit."""
        self._step += 1
        count = f"{self._step}/{self.total}" if self.total else f"{self._step}"
        if not self.quiet:
            self._console.print(f"[{count}] {what} ...", markup=False)
        t0 = time.monotonic()
        yield self
        self.note(f"done in {time.monotonic() - t0:.1f} s")

    @contextlib.contextmanager
    def bar(self, total, what):
        """A bar of ``total`` items; the object yielded has ``advance(n=1)``."""
        if self.quiet or not self._console.is_terminal:
            yield _Counter(self, total, what)
            return
        with _Bar(TextColumn("      {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=self._console, transient=True) as bar:
            task = bar.add_task(what, total=total)
            yield _BarHandle(bar, task)
        self.note(f"{what}: {total} of {total}")


class _BarHandle:
    def __init__(self, bar, task):
        self._bar, self._task = bar, task

    def advance(self, n=1):
        self._bar.advance(self._task, n)


class _Counter:
    """A bar for a stream that is not a terminal: a note at every quarter."""

    def __init__(self, progress, total, what):
        self._progress, self._total, self._what = progress, total, what
        self._done = 0
        self._next = 1

    def advance(self, n=1):
        self._done += n
        if self._total and self._next <= 4 and self._done * 4 >= self._next * self._total:
            self._progress.note(f"{self._what}: {self._done} of {self._total}")
            # Skip the quarters this advance has passed as well.
            self._next = self._done * 4 // self._total + 1
