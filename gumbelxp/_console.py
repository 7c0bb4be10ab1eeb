"""Terminal plumbing of the command line: a progress bar on stderr, and a
guard that keeps the frameworks' native start-up logs out of the output.

Neither imports a framework.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Generator
from typing import TextIO


class Progress:
    """A progress bar on stderr.

    On a terminal it redraws one line (``\\r``) with the fraction done, the
    elapsed time, an estimate of the time left and what runs now; elsewhere
    (a pipe, a log file, a test's capture) it writes a line at every tenth of
    the way, at least every :attr:`QUIET_S` seconds, and one at the end, so
    that logs stay readable. ``enabled=False``
    writes nothing. The stream is looked up at each write, so a redirected
    ``sys.stderr`` is honoured.
    """

    #: off a terminal, the longest silence (seconds) between two lines
    QUIET_S = 15.0

    def __init__(self, total: int, title: str = "", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.total, self.title, self.enabled = max(int(total), 1), title, enabled
        self._stream = stream
        self.done = 0
        self._t0 = time.perf_counter()
        self._last_tenth = -1
        self._drawn = False
        self._what = ""
        self._last_line = 0.0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def add(self, n: int) -> None:
        """Announce ``n`` more steps than planned (the total grows)."""
        self.total = max(self.total + n, 1)

    def update(self, what: str | None = None, advance: int = 0) -> None:
        """Advance by ``advance`` steps and show ``what`` (default: the last
        one shown) as the current step."""
        self.done = min(self.done + advance, self.total)
        what = self._what = self._what if what is None else what
        if not self.enabled:
            return
        frac = self.done / self.total
        elapsed = time.perf_counter() - self._t0
        eta = ""
        if 0.05 <= frac < 1:
            eta = f", ~{elapsed * (1 - frac) / frac:.0f} s left"
        head = f"{self.title}: " if self.title else ""
        if self._tty():
            width = 24
            fill = int(width * frac)
            bar = f"[{'#' * fill}{'.' * (width - fill)}]"
            line = f"{head}{bar} {frac:4.0%} {elapsed:.0f} s{eta}  {what}"
            cols = shutil.get_terminal_size((100, 24)).columns - 1
            self.stream.write("\r" + line[:cols].ljust(cols))
            self._drawn = True
        else:
            tenth = int(frac * 10)
            if tenth == self._last_tenth and elapsed - self._last_line < self.QUIET_S:
                return
            self._last_tenth, self._last_line = tenth, elapsed
            self.stream.write(f"{head}{frac:4.0%} after {elapsed:.0f} s{eta}  {what}\n")
        self.stream.flush()

    def step(self, what: str | None = None) -> None:
        """One step done; ``what`` is the next one (default: the same)."""
        self.update(what, 1)

    def close(self, what: str = "done") -> None:
        """Show 100% and end the line."""
        if not self.enabled:
            return
        self.done = self.total
        self._last_tenth = -1  # the closing line is always written
        self.update(what)
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


@contextlib.contextmanager
def native_logs_captured() -> Generator[list[str], None, None]:
    """Send what C and C++ code writes to file descriptor 2 (TensorFlow's
    oneDNN and absl notices, XLA's) to a temporary file while the block runs;
    Python's own ``sys.stderr`` keeps writing to the real stderr. Yields a
    list that holds the captured lines once the block ends. If the block
    raises, the captured text is written out, since it may explain why.

    Where file descriptors cannot be juggled (no fd 2, e.g. some embedded
    interpreters), it captures nothing.
    """
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield lines
        return
    tmp = tempfile.TemporaryFile()
    swapped = None
    try:
        os.dup2(tmp.fileno(), 2)
        try:
            py_fd = sys.stderr.fileno()
        except (OSError, ValueError, AttributeError):
            py_fd = None
        if py_fd == 2:  # Python's stderr is the real one: keep it there
            swapped = sys.stderr
            sys.stderr = open(os.dup(saved), "w", buffering=1,  # noqa: SIM115
                              encoding=swapped.encoding, errors="backslashreplace")
        ok = False
        try:
            yield lines
            ok = True
        finally:
            if swapped is not None:
                sys.stderr.flush()
                sys.stderr.close()
                sys.stderr = swapped
            os.dup2(saved, 2)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
            lines.extend(ln for ln in text.splitlines() if ln.strip())
            if not ok and text:
                sys.stderr.write(text)
                sys.stderr.flush()
    finally:
        os.close(saved)
        tmp.close()
