"""Progress of a client command that waits: one status line, rewritten in place, on a
terminal only.

A command that can wait more than a couple of seconds (pip resolving a closure, licenses
still being read, builds running) says what it is waiting for on stderr while it waits.
When stderr is not a terminal, or the command prints a machine-readable document
(``--json``, ``--format json``), nothing is written: output stays exactly what it was.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import TextIO

#: ANSI: carriage return, then erase to the end of the line
_CLEAR = "\r\x1b[K"


class Progress:
    """A status line on ``stream`` (stderr) with the seconds since the wait began.

    >>> import io
    >>> with Progress(io.StringIO()) as progress:  # not a terminal: silent
    ...     progress.update("resolving")
    >>> progress.enabled
    False
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and self.stream.isatty()
        self._clock = clock
        self._start = clock()
        self._shown = False
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def update(self, text: str) -> None:
        """Show ``text`` (and the seconds waited) in place of the previous status."""
        if not self.enabled:
            return
        with self._lock:
            self.stream.write(f"{_CLEAR}{text} ({self.elapsed():.0f} s)")
            self.stream.flush()
            self._shown = True

    def note(self, text: str) -> None:
        """A line that stays (an event, such as a state change), above the status."""
        if not self.enabled:
            return
        with self._lock:
            self.stream.write(f"{_CLEAR if self._shown else ''}{text}\n")
            self.stream.flush()
            self._shown = False

    def clear(self) -> None:
        """Remove the status line (before the command prints its result)."""
        with self._lock:
            if self._shown:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self._shown = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.clear()
