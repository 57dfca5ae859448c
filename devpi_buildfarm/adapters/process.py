"""Running one build command: output into the job's log, a deadline, cancellation.

The command runs in its own session (process group); on timeout or cancellation the
whole group is killed, so a build cannot outlive its job.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from devpi_buildfarm.core.ports import BuildLog


class Deadline:
    """The time a build must end by, shared by all of its commands."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


@contextlib.contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Record how long the ``with`` block took as ``timings[stage]`` (seconds)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(time.perf_counter() - start, 3)


def _pump(stream: object, log: BuildLog) -> None:
    read = getattr(stream, "read1", None) or stream.read  # type: ignore[attr-defined]
    while chunk := read(65536):
        log(chunk)


def run(  # noqa: PLR0913 - each argument is one aspect of running a build step
    argv: Sequence[str],
    *,
    stage: str,
    log: BuildLog,
    deadline: Deadline,
    cancelled: Callable[[], bool],
    env: Mapping[str, str],
    cwd: str | None = None,
    show: Sequence[str] | None = None,
) -> None:
    """Run ``argv`` to completion; :class:`BuildError` for ``stage`` when it fails.

    ``show`` is the command as logged (the inner command, without the sandbox wrapper).
    """
    log(f"+ {shlex.join(show or argv)}\n".encode())
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv is built by this package, never a shell
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        msg = f"cannot run {argv[0]!r}: {exc}"
        raise BuildError(msg, stage=stage) from exc
    pump = threading.Thread(target=_pump, args=(proc.stdout, log), daemon=True)
    pump.start()
    reason = None
    while True:
        try:
            code = proc.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            if deadline.left() <= 0:
                reason = f"timed out after {deadline.seconds:g} s"
            elif cancelled():
                reason = "cancelled"
            if reason is not None:
                _kill_group(proc)
                code = proc.wait()
                break
    pump.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    if reason is not None:
        raise BuildError(reason, stage="cancelled" if reason == "cancelled" else stage)
    if code != 0:
        msg = f"{shlex.join(show or argv)!r} exited with {code}"
        raise BuildError(msg, stage=stage)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
