"""The worker loop: lease a job, run its builder's backend, publish, report, all through
one :class:`~devpi_buildfarm.core.ports.WorkerPort`.

Each attempt gets a job directory of the worker's own (mode 0700; no build process ever
sees it) that is removed whatever the outcome; those a killed server left are removed at
its next start. The log is capped at the builder's ``log_bytes``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from typing import TYPE_CHECKING, Final

from devpi_buildfarm.adapters import wheel_check
from devpi_buildfarm.adapters.process import timed
from devpi_buildfarm.core.jobs import Outcome
from devpi_buildfarm.core.ports import BuildLimits, BuildRequest
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError
from devpi_foundry_common.failures import log_failure

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from devpi_buildfarm.core.builders import Builder
    from devpi_buildfarm.core.ports import BuildBackend, Lease, WorkerPort

log = logging.getLogger(__name__)
TRUNCATED: Final = b"\n[devpi-buildfarm: log truncated at the build's log_bytes limit]\n"


def _nothing() -> None:
    """The default ``failed`` callback: count nothing."""


class CappedLog:
    """A build's output: sent to the port at most every second, never past ``max_bytes``."""

    def __init__(
        self, port: WorkerPort, lease: Lease, max_bytes: int, failed: Callable[[], None] = _nothing
    ) -> None:
        self.port, self.lease, self.max_bytes, self.failed = port, lease, max_bytes, failed
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def closing(self, data: bytes) -> None:
        """How the job ended: always stored, past the cap too (a line, not output)."""
        with self.lock:
            self.parts.append(data[:2000])
        self.flush()

    def __call__(self, data: bytes) -> None:
        with self.lock:
            if self.truncated:
                return
            room = self.max_bytes - self.size
            if len(data) > room:
                data = data[: max(0, room)] + TRUNCATED
                self.truncated = True
            self.size += len(data)
            self.parts.append(data)
        if time.monotonic() - self.last > 1.0:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            data, self.parts = b"".join(self.parts), []
            self.last = time.monotonic()
        if data:
            try:
                self.port.append_log(self.lease, data)
            except Exception as exc:  # noqa: BLE001 - the build goes on; its log is incomplete and says so here
                log_failure(log, exc, f"job {self.lease.job.id}: could not store log output")
                self.failed()


class Heartbeat(threading.Thread):
    """Keeps a lease alive; sets ``lost`` when the job was cancelled or taken away."""

    def __init__(
        self, port: WorkerPort, lease: Lease, seconds: float, failed: Callable[[], None] = _nothing
    ) -> None:
        super().__init__(name=f"buildfarm-heartbeat-{lease.job.id}", daemon=True)
        self.port, self.lease, self.seconds, self.failed = port, lease, seconds, failed
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(max(1.0, self.seconds / 3)):
            try:
                alive = self.port.heartbeat(self.lease)
            except Exception as exc:  # noqa: BLE001 - a database hiccup: the next beat tries again
                log_failure(log, exc, f"job {self.lease.job.id}: heartbeat failed")
                self.failed()
                continue
            if not alive:
                log.warning(
                    "job %s: lease lost (cancelled or expired); stopping", self.lease.job.id
                )
                self.lost.set()
                return

    def stop(self) -> None:
        self.done.set()


class Worker:
    """Runs leased jobs with the backends of the builders it serves; ``failed`` counts
    each failure of the worker's own (its log line names it), not a build's."""

    def __init__(self, port: WorkerPort, builders: tuple[Builder, ...],  # noqa: PLR0913
                 backends: dict[str, BuildBackend], workroot: Path, *, owner: str,
                 lease_seconds: float, failed: Callable[[], None] = _nothing) -> None:  # fmt: skip
        self.port, self.backends, self.workroot = port, backends, workroot
        self.by_name = {b.name: b for b in builders}
        self.owner, self.lease_seconds, self.failed = owner, lease_seconds, failed

    def work_once(self) -> bool:
        """Lease one job and run it; ``False`` when there was nothing to do."""
        lease = self.port.lease(self.owner, {b.name: b.max_jobs for b in self.by_name.values()})
        if lease is None:
            return False
        self.run(lease)
        return True

    def run(self, lease: Lease) -> None:
        builder = self.by_name[lease.job.spec.builder]
        sink = CappedLog(self.port, lease, builder.log_bytes, self.failed)
        beat = Heartbeat(self.port, lease, self.lease_seconds, self.failed)
        timings: dict[str, float] = {}
        workdir = self.workroot / f"{lease.job.id}-{lease.job.attempts}-{uuid.uuid4().hex[:8]}"
        outcome, error, permanent, isolation = None, None, False, None
        beat.start()
        try:
            workdir.mkdir(mode=0o700, parents=True)
            outcome = self._build(lease, builder, workdir, sink, beat, timings)
        except BuildError as exc:
            error, permanent, isolation = str(exc), exc.permanent, exc.isolation
        except (ArchiveError, LookupError, ValueError, OSError) as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the worker outlives any build; the job records the error
            log_failure(log, exc, f"job {lease.job.id}: unexpected error")
            self.failed()
            error = f"internal error: {exc!r}"
        finally:
            beat.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        if outcome is not None:
            sink.closing(f"devpi-buildfarm: published {outcome.wheel}\n".encode())
        else:
            sink.closing(f"devpi-buildfarm: job {lease.job.id} failed: {error}\n".encode())
        self.port.finish(lease, outcome=outcome, error=error, timings=timings, final=permanent,
                         isolation=isolation)  # fmt: skip

    def _build(  # noqa: PLR0913, PLR0917 - one attempt's parts, all used
        self, lease: Lease, builder: Builder, workdir: Path, sink: CappedLog,
        beat: Heartbeat, timings: dict[str, float],
    ) -> Outcome:  # fmt: skip
        spec = lease.job.spec
        sdist = workdir / "sdist" / spec.sdist
        sdist.parent.mkdir(mode=0o700)
        with timed(timings, "fetch"):
            self.port.fetch_sdist(lease, sdist, sink)
        limits = BuildLimits.of(builder)
        request = BuildRequest(job_id=lease.job.id, sdist=sdist, target=spec.target,
                               policy=spec.policy, access=lease.access,
                               timeout=builder.timeout, limits=limits)  # fmt: skip
        backend = self.backends[builder.name]
        result = backend.build(request, workdir / "build", sink, beat.lost.is_set)
        timings.update(result.timings)
        with timed(timings, "verify"):
            sha256 = wheel_check.verify(lease.job, result.wheel)
        with timed(timings, "publish"):
            name, stored = self.port.publish(lease, result.wheel)
        if not stored:
            sink(f"devpi-buildfarm: {name} of this job is already published\n".encode())
        record = {**result.record, "sdist": {"name": spec.sdist, "sha256": spec.sdist_sha256},
                  "wheel": {"name": name, "sha256": sha256}, "timings": dict(timings)}  # fmt: skip
        return Outcome(wheel=name, wheel_sha256=sha256, isolation=result.isolation,
                       timings=timings, record=record)  # fmt: skip
