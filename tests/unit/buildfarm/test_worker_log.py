"""A build's log is capped at the builder's ``log_bytes`` (whatever the build prints), and
how the job ended is stored even past the cap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters.worker import TRUNCATED, CappedLog

if TYPE_CHECKING:
    from pathlib import Path

    from devpi_buildfarm.core.ports import Lease


class RecordingPort:
    """The part of a WorkerPort a log uses: it records what reached the server."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []

    def append_log(self, lease: Lease, data: bytes) -> None:
        self.stored.append(data)

    def __getattr__(self, name: str) -> Any:  # the rest of the port is not used here
        raise AttributeError(name)


def make(max_bytes: int) -> tuple[CappedLog, RecordingPort]:
    port = RecordingPort()
    return CappedLog(port, object(), max_bytes), port  # type: ignore[arg-type]


def test_output_past_the_cap_is_dropped_with_one_notice(tmp_path: Path) -> None:
    log, port = make(1000)
    for _ in range(500):  # 500 KB printed
        log(b"x" * 1000)
    log.closing(b"devpi-buildfarm: job 1 failed: build: reason\n")
    data = b"".join(port.stored)
    assert data.count(TRUNCATED) == 1
    assert len(data) < 1000 + len(TRUNCATED) + 100
    assert data.endswith(b"job 1 failed: build: reason\n")


def test_output_under_the_cap_is_kept_whole() -> None:
    log, port = make(1000)
    log(b"hello\n")
    log.flush()
    assert port.stored == [b"hello\n"]
