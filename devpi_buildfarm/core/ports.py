"""Contracts between the worker and what it drives: build backends, and the server.

A backend (local today; Docker and SSH next) turns one sdist into one wheel for one
target. It gets everything it needs in a :class:`BuildRequest` and never reaches back
into devpi. The worker reaches the server only through a :class:`WorkerPort`: leasing
jobs, heartbeats, the build log, the job's inputs (read with the permissions of the
identity that caused the job) and publishing (the server verifies the wheel and stores it
as an upload by that identity). The port is in-process today and becomes HTTP for remote
workers; the worker never holds a keyfs transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.jobs import Job, Outcome


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildLimits:
    """What one build may use, all of its processes together."""

    memory: int
    pids: int
    disk: int
    output_bytes: int
    log_bytes: int

    @classmethod
    def of(cls, builder: Builder) -> BuildLimits:
        """The limits a builder sets for each of its builds."""
        return cls(memory=builder.memory, pids=builder.pids, disk=builder.disk,
                   output_bytes=builder.output_bytes, log_bytes=builder.log_bytes)  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexAccess:
    """Where a job's build dependencies come from, and as whom (a job credential)."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def cache_identity(self) -> str:
        return f"{self.url} as {self.username or ':anonymous:'}"


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildRequest:
    """One build: the sdist on the worker's disk, the target, the index, the limits."""

    job_id: int
    sdist: Path
    target: str
    policy: str | None
    access: IndexAccess
    timeout: float
    limits: BuildLimits


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildResult:
    """A built (and repaired) wheel on the worker's disk, how it was isolated, timings."""

    wheel: Path
    isolation: str
    timings: dict[str, float] = field(default_factory=dict)
    #: how the build ran (see :attr:`devpi_buildfarm.core.jobs.Outcome.record`)
    record: dict[str, Any] = field(default_factory=dict)


class BuildLog(Protocol):
    def __call__(self, data: bytes) -> None:
        """Append ``data`` to the job's log."""


class BuildBackend(Protocol):
    """What every backend provides (chosen per builder by its ``backend`` key)."""

    name: str

    @property
    def isolation(self) -> str:
        """What confines this backend's builds, as the job record shows it."""
        ...

    def status(self, target: str) -> str:
        """Whether this backend can build ``target``: ``native``, ``emulated (...)`` or
        ``cannot run: <why>`` (shown by ``devpi build targets``)."""
        ...

    def build(
        self, request: BuildRequest, workdir: Path, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        """Build ``request``; ``workdir`` is the worker's own (never shown to the build).

        Raises :class:`devpi_buildfarm.errors.BuildError` naming the failed step; stops
        early (``BuildError(..., stage="cancelled")``) once ``cancelled()`` is true.
        """
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Lease:
    """A job a worker holds, with the credential its inputs are read with."""

    job: Job
    owner: str
    access: IndexAccess


class WorkerPort(Protocol):
    """The worker's one way to the server."""

    def lease(self, owner: str, capacities: Mapping[str, int]) -> Lease | None:
        """The next due job of one of these builders (name -> free slots), or ``None``."""
        ...

    def heartbeat(self, lease: Lease) -> bool:
        """Keep the lease; ``False`` once it is lost (cancelled, expired)."""
        ...

    def append_log(self, lease: Lease, data: bytes) -> None:
        """Add build output to the job's log (the server caps it)."""
        ...

    def fetch_sdist(self, lease: Lease, dest: Path, log: BuildLog) -> None:
        """Write the job's sdist to ``dest``, read as the job's identity, sha256 checked
        (what it waits for goes to ``log``)."""
        ...

    def publish(self, lease: Lease, wheel: Path) -> tuple[str, bool]:
        """Verify and store the wheel as an upload by the job's identity into its
        ``upload_to``; ``(name, False)`` when this job's wheel is already there."""
        ...

    def finish(  # noqa: PLR0913 - what an attempt leaves, all keyword-only
        self, lease: Lease, *, outcome: Outcome | None, error: str | None,
        timings: dict[str, float], final: bool = False, isolation: str | None = None,
    ) -> bool:  # fmt: skip
        """Record the attempt's end (``final``: no retry would help; ``isolation``: what
        confined a failed build); ``False`` when the lease was lost meanwhile."""
        ...
