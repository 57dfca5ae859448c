"""Contracts between the worker and what it drives: build backends and their results.

A backend (local today; Docker and SSH later) turns one sdist into one wheel for one
target. It gets everything it needs in a :class:`BuildRequest` and may not reach back into
devpi: the worker fetches the sdist before and verifies and publishes the wheel after.
That keeps backends runnable in a remote worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildRequest:
    """One build: the sdist on disk, the target, where build dependencies come from."""

    job_id: int
    sdist: Path
    target: str
    policy: str | None
    #: The simple index (PEP 503 URL) build dependencies and smoke-test dependencies come from.
    index_url: str
    timeout: float
    memory: int | None = None
    pids: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildResult:
    """A built (and repaired) wheel, with how it was isolated and how long each step took."""

    wheel: Path
    isolation: str
    timings: dict[str, float] = field(default_factory=dict)


class BuildLog(Protocol):
    def __call__(self, data: bytes) -> None:
        """Append ``data`` to the job's log."""


class BuildBackend(Protocol):
    """What every backend provides."""

    name: str

    def build(
        self, request: BuildRequest, workdir: Path, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        """Build ``request`` in ``workdir`` (the worker removes it afterwards).

        Raises :class:`devpi_buildfarm.errors.BuildError` naming the failed step; stops
        early (``BuildError(..., stage="cancelled")``) once ``cancelled()`` is true.
        """
        ...
