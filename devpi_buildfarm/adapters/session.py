"""One run of the build driver in its sandbox: a frame in, a frame out, bounded.

The worker writes the input frame to the driver's stdin, copies its stderr into the job's
log (capped) and reads its answer from stdout: a header of at most 1 MiB and at most one
file, streamed into a directory only the worker writes, never larger than the build's
output cap. The whole sandbox is killed at the deadline, when the job is cancelled or when
the answer breaks a limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from devpi_buildfarm.core.framing import FrameError, copy_exactly, read_header, write_frame
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.process import Deadline
    from devpi_buildfarm.core.ports import BuildLog


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """What the driver answered: its metadata and the file it sent (on the worker's side)."""

    meta: dict[str, Any]
    file: Path | None
    returncode: int


class _Reader(threading.Thread):
    def __init__(self, stream: IO[bytes], dest: Path, max_bytes: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.dest, self.max_bytes = stream, dest, max_bytes
        self.meta: dict[str, Any] | None = None
        self.file: Path | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.meta, self.file = read_answer(self.stream, self.dest, self.max_bytes)
        except (FrameError, OSError) as exc:
            self.error = str(exc)


def read_answer(
    stream: IO[bytes], dest: Path, max_bytes: int
) -> tuple[dict[str, Any], Path | None]:
    """The driver's answer frame: its header (at most 1 MiB) and at most one file of at most
    ``max_bytes``, written into ``dest`` (never over a file or through a link there);
    :class:`FrameError` for anything else."""
    header = read_header(stream)
    if len(header.files) > 1:
        msg = f"the build sent {len(header.files)} files, at most one wheel is taken"
        raise FrameError(msg)
    file = None
    for name, size in header.files:
        if size > max_bytes:
            msg = f"the wheel is {size} bytes, over the output limit of {max_bytes}"
            raise FrameError(msg)
        path = dest / name.rpartition("/")[2]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
            copy_exactly(stream, out, size, name=name)
        file = path
    return header.meta, file


def run_driver(  # noqa: PLR0913 - each argument is one aspect of a bounded run
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    meta: dict[str, Any],
    files: Sequence[tuple[str, Path]],
    out_dir: Path,
    max_output: int,
    log: BuildLog,
    deadline: Deadline,
    cancelled: Callable[[], bool],
    stage: str,
) -> Answer:
    """Run the driver once; :class:`BuildError` when it is killed or its answer is bad."""
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv is built by this package, never a shell
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env), cwd="/", start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        msg = f"cannot start the sandbox ({argv[0]!r}): {exc}"
        raise BuildError(msg, stage=stage) from exc
    assert proc.stdin  # noqa: S101 - all three are pipes
    assert proc.stdout  # noqa: S101
    assert proc.stderr  # noqa: S101
    writer = threading.Thread(target=_feed, args=(proc.stdin, meta, files), daemon=True)
    pump = threading.Thread(target=_pump, args=(proc.stderr, log), daemon=True)
    reader = _Reader(proc.stdout, out_dir, max_output)
    for thread in (writer, pump, reader):
        thread.start()
    reason = _wait(proc, deadline, cancelled, reader)
    for thread in (writer, pump, reader):
        thread.join(timeout=5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError):
            stream.close()
    if reason is not None:
        refused = reason == reader.error  # an answer over a limit: the same next time
        raise BuildError(reason, stage="cancelled" if reason == "cancelled" else stage,
                         permanent=refused)  # fmt: skip
    if reader.error is not None or reader.meta is None:
        why = reader.error or "no answer"
        msg = f"the sandbox ended with {proc.returncode} and {why}"
        raise BuildError(msg, stage=stage, permanent=reader.error is not None)
    return Answer(meta=reader.meta, file=reader.file, returncode=proc.returncode)


def _wait(
    proc: subprocess.Popen[bytes], deadline: Deadline, cancelled: Callable[[], bool],
    reader: _Reader,
) -> str | None:  # fmt: skip
    while True:
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        else:
            return None
        reason = None
        if deadline.left() <= 0:
            reason = f"timed out after {deadline.seconds:g} s"
        elif cancelled():
            reason = "cancelled"
        elif reader.error is not None:
            reason = reader.error
        if reason is not None:
            with contextlib.suppress(ProcessLookupError):  # bwrap's pid namespace dies with it
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return reason


def _feed(stdin: IO[bytes], meta: dict[str, Any], files: Sequence[tuple[str, Path]]) -> None:
    with contextlib.ExitStack() as stack:
        opened = [(name, stack.enter_context(path.open("rb")), path.stat().st_size)
                  for name, path in files]  # fmt: skip
        with contextlib.suppress(OSError, FrameError):  # the sandbox died: its answer says why
            write_frame(stdin, meta, opened)
    with contextlib.suppress(OSError):
        stdin.close()


def _pump(stream: IO[bytes], log: BuildLog) -> None:
    read = getattr(stream, "read1", None) or stream.read
    while chunk := read(65536):
        log(chunk)
