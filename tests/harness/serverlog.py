"""Clean server logs, enforced: the problems a devpi-server log shows, and who expected them.

Every devpi-server the harness starts registers its log file here (:func:`watch`). After
each integration test the conftest reads what the watched logs gained since the last
check (:meth:`LogWatch.new_problems`): every ERROR or CRITICAL record and every traceback
is a problem, and a problem the test did not declare fails it, as does a declared one that
never appeared (so declarations cannot outlive what they excuse).

devpi logs ``%(asctime)s %(levelname)-5.5s %(message)s``: a record starts with a
timestamp, CRITICAL shows as ``CRITI``, and the lines up to the next record belong to it
(a logged traceback, or anything the process printed to stderr).

One kind of ERROR record is not a problem: devpi logs every error *answer* it gives
through its ``abort()`` (a 403 refusal, a 404, a 410 for a mirror file replaced meanwhile,
a 502 from an upstream) as ``while handling URL:`` and the reason. Those are answers the
client sees and the tests assert; a failure behind an answer (an exception) still shows as
a traceback, which is a problem.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
_BAD_LEVEL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (ERROR|CRITI)")
#: devpi's record of an error answer (devpi_server.views.abort)
_ANSWER = re.compile(r"^\S+ \S+ ERROR (\[\w+\] )*while handling \S+:$")
TRACEBACK = "Traceback (most recent call last):"


@dataclass(frozen=True)
class Problem:
    """One ERROR/CRITICAL record, or a record (or stray output) holding a traceback."""

    log: Path
    text: str

    def __str__(self) -> str:
        return f"{self.log.name}: {self.text}"


def problems(text: str, log: Path) -> list[Problem]:
    """The problems in a piece of log ``text``.

    >>> from pathlib import Path
    >>> out = problems(
    ...     "2026-01-01 10:00:00,000 INFO  [req1] GET /\\n"
    ...     "2026-01-01 10:00:01,000 ERROR [NOTI] calling x failed\\n"
    ...     "Traceback (most recent call last):\\n"
    ...     "  File 'x.py', line 1\\n"
    ...     "KeyError: 'a'\\n"
    ...     "2026-01-01 10:00:02,000 WARNI a warning\\n", Path("s.log"))
    >>> [p.text.splitlines()[0] for p in out]
    ['2026-01-01 10:00:01,000 ERROR [NOTI] calling x failed']
    >>> len(out[0].text.splitlines())
    4
    """
    found: list[Problem] = []
    record: list[str] = []

    def close() -> None:
        if any(TRACEBACK in r for r in record) or (
            record and _BAD_LEVEL.match(record[0]) and not _ANSWER.match(record[0])
        ):
            found.append(Problem(log, "\n".join(record)))

    for line in text.splitlines():
        if _RECORD.match(line):
            close()
            record = [line]
        else:
            record.append(line)
    close()
    return found


@dataclass
class LogWatch:
    """Log files being watched, each with the offset up to which it has been checked, and
    the standing expectations of fixtures (:meth:`expected`): text -> times seen."""

    offsets: dict[Path, int] = field(default_factory=dict)
    standing: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def expected(self, *texts: str) -> Iterator[None]:
        """Problems containing one of ``texts`` are expected while the block runs (a
        fixture whose server is misconfigured on purpose logs them whenever it looks);
        each must have appeared by the end of the block, and problems still unread then
        must be expected too."""
        for text in texts:
            self.standing.setdefault(text, 0)
        try:
            yield
        finally:
            left = self.new_problems()
            missing = [t for t in texts if not self.standing.pop(t, 0)]
        if left or missing:
            raise AssertionError(report(left, missing))

    def watch(self, log: Path) -> None:
        """Check ``log`` from now on (a restarted server appends to a log already watched)."""
        with self._lock:
            if log not in self.offsets:
                self.offsets[log] = log.stat().st_size if log.exists() else 0

    def new_problems(self) -> list[Problem]:
        """The problems every watched log gained since the last call.

        A record still being written (no newline at the end yet) waits for the next call.
        """
        found: list[Problem] = []
        with self._lock:
            for log, offset in self.offsets.items():
                if not log.exists():
                    continue
                with log.open("rb") as f:
                    f.seek(offset)
                    data = f.read()
                complete = data[: data.rfind(b"\n") + 1]
                self.offsets[log] = offset + len(complete)
                found.extend(problems(complete.decode(errors="replace"), log))
            return [p for p in found if not self._standing(p)]

    def _standing(self, problem: Problem) -> bool:
        texts = [t for t in self.standing if t in problem.text]
        for text in texts:
            self.standing[text] += 1
        return bool(texts)


#: The watch of this test session (one pytest process).
WATCH = LogWatch()


def watch(log: Path) -> None:
    """Have the integration tier check ``log`` (see the module docstring)."""
    WATCH.watch(log)


def expected_while(*texts: str) -> contextlib.AbstractContextManager[None]:
    """For fixtures: problems containing one of ``texts`` are expected while the block runs
    (see :meth:`LogWatch.expected`)."""
    return WATCH.expected(*texts)


@dataclass
class Expected:
    """Problems a test declared it expects, by a piece of their text."""

    texts: list[str] = field(default_factory=list)
    #: problems that may or may not appear (what a server killed at random moments logs
    #: depends on the moment): allowed, never required
    optional: list[str] = field(default_factory=list)

    def __call__(self, *texts: str) -> None:
        """Declare that a server log will show a problem containing each of ``texts``."""
        self.texts.extend(texts)

    def may_log(self, *texts: str) -> None:
        """Allow problems containing one of ``texts`` without requiring them."""
        self.optional.extend(texts)

    def verdict(self, found: list[Problem]) -> tuple[list[Problem], list[str]]:
        """The undeclared problems, and the declared texts no problem contains."""
        allowed = [*self.texts, *self.optional]
        unexpected = [p for p in found if not any(t in p.text for t in allowed)]
        missing = [t for t in self.texts if not any(t in p.text for p in found)]
        return unexpected, missing

    def collect(self, watch: LogWatch, wait: float = 10.0) -> list[Problem]:
        """The new problems; while a declared one is missing, keep reading up to ``wait`` s
        (a background thread may log it just after the test's last request)."""
        found = watch.new_problems()
        deadline = time.monotonic() + wait
        while self.verdict(found)[1] and time.monotonic() < deadline:
            time.sleep(0.2)
            found += watch.new_problems()
        return found


def report(unexpected: list[Problem], missing: list[str]) -> str:
    """The failure message of a test whose server logs were not as declared."""
    parts = []
    if unexpected:
        parts.append("devpi-server logged problems the test did not declare expected")
        parts.append("(declare them with the expect_server_log fixture, the")
        parts.append("server_log_expected marker or, in a fixture, serverlog.expected_while,")
        parts.append("if the test causes them on purpose):")
        parts.extend(f"--- {p}" for p in unexpected)
    if missing:
        parts.append(f"declared expected but never logged: {missing!r}")
    return "\n".join(parts)
