"""What a refused request must leave alone: keyfs, the plugins' databases, the threads.

``with unchanged(server):`` captures a running server's state before the block and
asserts after it that

* keyfs's serial (``/+status``) did not move: nothing was written, not even a write devpi
  would have committed together with its 4xx answer;
* every file of the plugins' own state (devpi_buildfarm's queue, devpi_license's store:
  the directories in ``PLUGIN_STATE``) is byte-identical, and none appeared or vanished;
* the server process runs as many threads as before (no service started).

SQLite's ``-shm`` files are left out: readers change them without changing any data. A
capture first waits until devpi's own background work has settled (:func:`settled_serial`).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.server import get_json

if TYPE_CHECKING:
    from collections.abc import Iterator

    from harness.server import DevpiServer

#: Directories in a serverdir that hold plugin state (devpi_buildfarm, devpi_license).
PLUGIN_STATE = (".buildfarm", ".devpi-license")
#: how long keyfs's serial must stand still before a capture
SETTLE_SECONDS = 0.2


@dataclass(frozen=True)
class ServerState:
    """A server's keyfs serial, plugin state files (path -> sha256) and thread count."""

    serial: int
    files: dict[str, str]
    threads: int
    #: whether devpi_policy's audit writer runs: it starts with the first refusal it
    #: records (by design), the one thread a refused request may start
    audit_thread: bool = False


def plugin_files(server: DevpiServer) -> dict[str, str]:
    """Every plugin state file of ``server``, relative path -> sha256 of its content."""
    found = {}
    for name in PLUGIN_STATE:
        top = server.serverdir / name
        if not top.exists():
            continue
        for path in sorted(top.rglob("*")):
            if path.is_file() and not path.name.endswith("-shm"):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[str(path.relative_to(server.serverdir))] = digest
    return found


def thread_count(server: DevpiServer) -> int:
    """Threads of the server process (Linux ``/proc``)."""
    assert server.proc is not None, "the server is not running"
    return len(list(Path(f"/proc/{server.proc.pid}/task").iterdir()))


def settled_serial(server: DevpiServer, timeout: float = 10.0) -> int:
    """keyfs's serial once devpi's own background work is done: every event handled and
    no commit for a moment (a new mirror loads its project list by itself, for example)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = get_json(f"{server.url}/+status")
        serial = int(status["serial"])
        if serial == last and int(status.get("event-serial", serial)) >= serial:
            return serial
        if time.monotonic() > deadline:
            msg = f"the server did not settle within {timeout} s (serial {last} -> {serial})"
            raise AssertionError(msg)
        last = serial
        time.sleep(SETTLE_SECONDS)


def audit_recorded(server: DevpiServer) -> bool:
    """Whether devpi_policy recorded a refusal yet (its audit thread then runs)."""
    metrics = get_json(f"{server.url}/+status").get("metrics") or []
    return any(
        m[0] == "devpi_policy_audit_recorded_total" and float(m[2]) > 0
        for m in metrics
        if isinstance(m, list) and len(m) >= 3
    )


def capture(server: DevpiServer) -> ServerState:
    serial = settled_serial(server)
    return ServerState(serial, plugin_files(server), thread_count(server), audit_recorded(server))


def assert_same(before: ServerState, after: ServerState, what: str) -> None:
    """Fail naming everything that changed between two captures."""
    problems = []
    if after.serial != before.serial:
        problems.append(f"keyfs serial {before.serial} -> {after.serial}")
    problems += [
        f"plugin file {path} changed, appeared or vanished"
        for path in sorted(set(before.files) | set(after.files))
        if before.files.get(path) != after.files.get(path)
    ]
    started = int(after.audit_thread and not before.audit_thread)  # the audit's writer
    if after.threads != before.threads + started:
        problems.append(f"threads {before.threads} -> {after.threads}")
    assert not problems, f"{what}: " + "; ".join(problems)


@contextlib.contextmanager
def unchanged(server: DevpiServer, what: str = "request") -> Iterator[None]:
    """Assert that the block leaves the server's serial, plugin files and threads alone."""
    before = capture(server)
    yield
    assert_same(before, capture(server), what)
