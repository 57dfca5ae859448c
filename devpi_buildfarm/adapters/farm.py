"""The build farm of one devpi-server: its queue, builders and backend, and what workers do.

Enqueueing happens in devpi's notifier thread (``devpiserver_on_upload``) and at startup
(reconciliation: notifier events are not replayed after a crash). Building happens in
worker threads, outside any keyfs transaction; publishing opens its own short one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters import devpi_store, process
from devpi_buildfarm.adapters.builders_file import load_builders
from devpi_buildfarm.adapters.envcache import EnvCache
from devpi_buildfarm.adapters.fetching import fetch
from devpi_buildfarm.adapters.joblog import JobLogs
from devpi_buildfarm.adapters.jobrun import Heartbeat, LogBuffer
from devpi_buildfarm.adapters.local_runner import LocalBackend
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.core import plan, wheels
from devpi_buildfarm.core.jobs import Job, Outcome
from devpi_buildfarm.core.ports import BuildRequest
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError

if TYPE_CHECKING:
    from devpi_buildfarm.config import ServerOptions
    from devpi_buildfarm.core.jobs import JobSpec
    from devpi_buildfarm.core.plan import Planned
    from devpi_foundry_common.metrics import Metrics

log = logging.getLogger(__name__)


class Farm:
    """Queue, builders and backend of one server."""

    def __init__(self, xom: Any, options: ServerOptions, metrics: Metrics) -> None:
        self.xom = xom
        self.options = options
        self.metrics = metrics
        self.builders = load_builders(options)
        self.by_name = {b.name: b for b in self.builders}
        if options.db.startswith("sqlite:///"):
            Path(options.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.queue = SqlQueue.from_url(options.db, max_attempts=options.max_attempts)
        self.logs = JobLogs(self.queue, max_bytes=options.log_max_bytes)
        cache = None
        if options.env_cache_seconds > 0:
            cache = EnvCache(Path(options.workdir) / "envs", ttl=options.env_cache_seconds)
        self.backend = LocalBackend(allow_unisolated=options.allow_unisolated, env_cache=cache)
        self.owner_prefix = f"{socket.gethostname()}:{os.getpid()}"
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        #: set when jobs were queued here: idle workers lease at once instead of polling
        self.wake = threading.Event()

    @property
    def server_url(self) -> str:
        if self.options.server_url:
            return self.options.server_url.rstrip("/")
        args = self.xom.config.args
        host = args.host if args.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{args.port}"

    # --- enqueueing ----------------------------------------------------------------------------
    def enqueue_release(self, stage: Any, project: str, version: str, link: Any) -> list[int]:
        """Queue the builds an sdist needs (called inside a keyfs transaction)."""
        base, planned = devpi_store.plan_release(
            self.xom, stage, link, release=(project, version), builders=self.builders
        )
        return [
            job_id
            for item, job_id, created in self.queue_plan(base, planned)
            if created and item.job is not None
        ]

    def queue_plan(self, base: JobSpec, planned: list[Planned]) -> list[tuple[Planned, int, bool]]:
        """Record each planned target: its job (queued now, or found), or a ``skipped`` job
        with the reason; ``(planned, job id, created)`` for each."""
        now = time.time()
        recorded = []
        for item in planned:
            if item.job is None:
                spec = replace(base, target=item.target)
                job_id, created = self.queue.record_skip(spec, item.skip or "not needed", now=now)
            else:
                job_id, created = self.queue.enqueue(item.job, now=now)
                if created:
                    log.info("queued job %s: %s %s for %s", job_id, base.project,
                             base.version, item.target)  # fmt: skip
            recorded.append((item, job_id, created))
        return recorded

    def reconcile(self) -> int:
        """Queue builds for every sdist of every index with targets (idempotent)."""
        count = 0
        with self.xom.keyfs.read_transaction():
            for user in self.xom.model.get_userlist():
                for stage in user.getstages():
                    if devpi_store.targets_of(stage):
                        for project, version, link in devpi_store.sdists_of(stage):
                            count += len(self.enqueue_release(stage, project, version, link))
        return count

    def reclaim_orphans(self) -> list[int]:
        """Queue again the jobs that an earlier process on this host was building when it
        died (kill -9, power loss): their leases would otherwise only expire later."""
        host = socket.gethostname()

        def dead(owner: str) -> bool:
            owner_host, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if owner_host != host or not pid.isdigit() or owner.startswith(f"{self.owner_prefix}:"):
                return False
            return not _process_alive(int(pid))

        return self.queue.reclaim(dead, now=time.time())

    # --- building ------------------------------------------------------------------------------
    def work_once(self, worker: str) -> bool:
        """Lease one job and run it; ``False`` when there was nothing to do."""
        now = time.time()
        for job_id in self.queue.requeue_expired(now=now):
            log.warning("job %s: lease expired, requeued or failed", job_id)
        owner = f"{self.owner_prefix}:{worker}"
        job = self.queue.lease(
            owner, list(self.by_name), now=now, seconds=self.options.lease_seconds
        )
        if job is None:
            return False
        self.run(job, owner)
        return True

    def run(self, job: Job, owner: str) -> None:
        sink = LogBuffer(self.logs, job)
        beat = Heartbeat(self, job, owner)
        timings: dict[str, float] = {}
        beat.start()
        try:
            outcome = self._build_and_publish(job, sink, beat, timings)
        except (BuildError, ArchiveError, LookupError, ValueError, OSError) as exc:
            self._failed(job, owner, sink, str(exc), timings)
        except Exception as exc:
            log.exception("job %s: unexpected error", job.id)
            self._failed(job, owner, sink, f"internal error: {exc!r}", timings)
        else:
            sink(f"devpi-buildfarm: published {outcome.wheel}\n".encode())
            sink.flush()
            if self.queue.succeed(job.id, owner, now=time.time(), outcome=outcome):
                self.metrics.inc("jobs_succeeded_total")
        finally:
            beat.stop()
            sink.flush()

    def _failed(
        self, job: Job, owner: str, sink: LogBuffer, error: str, timings: dict[str, float]
    ) -> None:
        sink(f"devpi-buildfarm: job {job.id} failed: {error}\n".encode())
        sink.flush()
        if self.queue.fail(job.id, owner, now=time.time(), error=error, timings=timings):
            self.metrics.inc("jobs_failed_total")

    def _build_and_publish(
        self, job: Job, sink: LogBuffer, beat: Heartbeat, timings: dict[str, float]
    ) -> Outcome:
        builder = self.by_name[job.spec.builder]
        with process.timed(timings, "fetch"):
            data = devpi_store.read_file(self.xom, job.spec.sdist_path)
            if data is None:  # a mirrored file not cached yet: devpi fetches and caches it
                sink(f"devpi-buildfarm: fetching {job.spec.sdist} through the mirror\n".encode())
                data = fetch(f"{self.server_url}/{job.spec.sdist_path}", log=sink)
            if hashlib.sha256(data).hexdigest() != job.spec.sdist_sha256:
                msg = f"{job.spec.sdist!r} does not match its sha256"
                raise BuildError(msg, stage="fetch")
        with tempfile.TemporaryDirectory(prefix="devpi-buildfarm-") as tmp:
            sdist = Path(tmp) / "sdist" / job.spec.sdist
            sdist.parent.mkdir()
            sdist.write_bytes(data)
            request = BuildRequest(
                job_id=job.id,
                sdist=sdist,
                target=job.spec.target,
                policy=job.spec.policy,
                index_url=f"{self.server_url}/{job.spec.index}/+simple/",
                timeout=builder.timeout,
                memory=builder.memory,
                pids=builder.pids,
            )
            result = self.backend.build(request, Path(tmp) / "work", sink, beat.lost.is_set)
            timings.update(result.timings)
            with process.timed(timings, "verify"):
                wheel_data = result.wheel.read_bytes()
                sha256 = self.verify(job, result.wheel.name, wheel_data)
        with process.timed(timings, "publish"):
            name, stored = devpi_store.publish(self.xom, job, result.wheel.name, wheel_data, sha256)
        if not stored:
            sink(f"devpi-buildfarm: {name} of this job is already published\n".encode())
        return Outcome(wheel=name, wheel_sha256=sha256, isolation=result.isolation, timings=timings)

    def verify(self, job: Job, wheel: str, data: bytes) -> str:
        """The wheel's sha256 once it fits its job; :class:`BuildError` otherwise."""
        spec = job.spec
        problems = plan.result_problems(
            wheel,
            target=spec.target,
            policy=spec.policy,
            project=spec.project,
            version=spec.version,
        )
        name, version = wheels.name_and_version(data, wheel)
        if not plan.same_release(name, version, spec.project, spec.version):
            problems.append(
                f"METADATA says {name} {version}, the sdist is {spec.project} {spec.version}"
            )
        if problems:
            raise BuildError("; ".join(problems), stage="verify")
        return hashlib.sha256(data).hexdigest()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
