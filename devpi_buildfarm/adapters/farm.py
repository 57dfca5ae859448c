"""The build farm of one devpi-server: its queue, builders, backends and job credentials.

Enqueueing happens when an upload commits (``devpiserver_on_upload_sync``), again in
devpi's notifier thread (``devpiserver_on_upload``; the queue keeps one job per sdist,
target and index), in build requests, and at startup (reconciliation: notifier events
are not replayed after a crash).
Building happens in :mod:`.worker` loops that reach the farm only through its
:class:`~.local_port.LocalPort`, outside any keyfs transaction; publishing is an upload
by the job's identity (:mod:`.publisher`).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from devpi_buildfarm.adapters import cgroups, devpi_store
from devpi_buildfarm.adapters.backends import farm_scope, make_backends
from devpi_buildfarm.adapters.builders_file import load_builders
from devpi_buildfarm.adapters.credentials import Credentials
from devpi_buildfarm.adapters.joblog import JobLogs
from devpi_buildfarm.adapters.local_port import LocalPort
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.adapters.worker import Worker

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
            path = Path(options.db.removeprefix("sqlite:///"))
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.touch(mode=0o600, exist_ok=True)  # job logs of read-restricted indexes
        self.queue = SqlQueue.from_url(options.db, max_attempts=options.max_attempts)
        self.logs = JobLogs(self.queue, max_bytes=options.log_max_bytes)
        self.backends = make_backends(self.builders, options)
        #: the isolation of the first builder's backend (shown by /+status and targets)
        self.backend = self.backends[self.builders[0].name]
        self.credentials = Credentials()
        self.port = LocalPort(self)
        self.workroot = Path(options.workdir) / "jobs"
        self._serving = False
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
    def worker(self, name: str) -> Worker:
        """An in-process worker: this farm's builders and backends, through its port."""
        return Worker(self.port, self.builders, self.backends, self.workroot,
                      owner=f"{self.owner_prefix}:{name}",
                      lease_seconds=self.options.lease_seconds,
                      failed=self._worker_failed)  # fmt: skip

    def _worker_failed(self) -> None:
        self.metrics.inc("failures_total")
        self.metrics.inc("worker_errors_total")

    def serving(self) -> bool:
        """Whether this server answers on :attr:`server_url` yet (workers fetch and publish
        through it, so they lease nothing before it does: at start, after a crash)."""
        if self._serving:
            return True
        parts = urlsplit(self.server_url)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 2):
                self._serving = True
        except OSError:
            return False
        return True

    def work_once(self, worker: str) -> bool:
        """Expire lost leases, then lease one job and run it (``False``: nothing to do)."""
        if not self.serving():
            return False
        for job_id in self.queue.requeue_expired(now=time.time()):
            log.warning("job %s: lease expired, requeued or failed", job_id)
        return self.worker(worker).work_once()

    def remove_leftovers(self) -> None:
        """Job directories and build cgroups of an earlier (killed) server of this farm."""
        if self.workroot.is_dir():
            for path in self.workroot.iterdir():
                shutil.rmtree(path, ignore_errors=True)
        removed = cgroups.remove_leftovers(farm_scope(self.options))
        if removed:
            log.warning("devpi-buildfarm: removed %d build cgroups of a killed server", removed)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
