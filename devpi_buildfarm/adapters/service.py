"""The build farm's life in devpi-server: which process builds, when it starts, its threads.

Only a primary devpi-server that serves requests (not ``--requests-only``, not a replica)
queues and builds: notifier hooks also run on replicas and in ``devpi-import``, which
never parses the ``--buildfarm-*`` options (and so never builds).

Installed but unused, the plugin starts nothing and writes nothing: the queue database
and the worker threads appear when an index first has ``buildfarm_targets`` (found at
startup, set through the API, or met by an upload), or on the first ``+buildfarm`` call.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters import devpi_store
from devpi_buildfarm.adapters.builders_file import load_builders
from devpi_buildfarm.adapters.credentials import PREFIX, JobIdentity, is_file_upload
from devpi_buildfarm.adapters.devpi import metrics_for
from devpi_buildfarm.config import ServerOptions, option_present
from devpi_buildfarm.errors import InvalidBuildersError
from devpi_foundry_common.failures import log_failure
from devpi_foundry_common.singletons import per_server

if TYPE_CHECKING:
    from devpi_buildfarm.adapters.farm import Farm

log = logging.getLogger(__name__)
MAINTENANCE_SECONDS = 30.0
GAUGE_SECONDS = 1.0
_START_LOCK = threading.Lock()


def builds_here(xom: Any) -> bool:
    args = xom.config.args
    return (
        option_present(args) and not xom.is_replica() and not getattr(args, "requests_only", False)
    )


def farm_for(xom: Any) -> Farm:
    """This server's farm (made, with its database, on first use)."""
    metrics = metrics_for(xom)  # not inside the factory: devpi's singleton lock is not reentrant

    def make() -> Farm:
        from devpi_buildfarm.adapters.farm import Farm  # SQLAlchemy only when builds happen

        options = ServerOptions.from_args(xom.config.args, str(xom.config.server_path))
        return Farm(xom, options, metrics)

    return per_server(xom, "devpi-buildfarm", "farm", make)


def existing_farm(xom: Any) -> Farm | None:
    """The farm if it has been made (``None``: nothing started, nothing to report)."""
    try:
        found: Farm = xom.get_singleton("+devpi-buildfarm", "farm")
    except KeyError:
        return None
    return found


def never_used(xom: Any) -> bool:
    """Whether this server has no build job at all: no farm made in this process and its
    default SQLite queue never created. Reads then answer "none" without making the farm
    (its database, threads and backends are made by the first build, not by a 404)."""
    if existing_farm(xom) is not None or not builds_here(xom):
        return False
    options = ServerOptions.from_args(xom.config.args, str(xom.config.server_path))
    if not options.db.startswith("sqlite:///"):
        return False
    return not Path(options.db.removeprefix("sqlite:///")).exists()


def start(xom: Any) -> None:
    """At server start: run the farm when some index already has targets."""
    if not builds_here(xom):
        log.debug("devpi-buildfarm: not building in this process (replica, requests-only, tool)")
        return
    options = ServerOptions.from_args(xom.config.args, str(xom.config.server_path))
    try:
        load_builders(options)  # a broken builders file stops the server now, all problems listed
    except (InvalidBuildersError, OSError) as exc:
        from devpi_server.main import Fatal

        msg = f"devpi-buildfarm: {options.builders_file}: {exc}"
        raise Fatal(msg) from exc
    with xom.keyfs.read_transaction():
        wanted = any(
            devpi_store.targets_of(stage)
            for user in xom.model.get_userlist()
            for stage in user.getstages()
        )
    if wanted:
        ensure_running(xom)


def ensure_running(xom: Any) -> Farm | None:
    """Start the workers and the maintenance thread once (``None``: not in this process)."""
    if not builds_here(xom):
        return None
    farm = farm_for(xom)
    with _START_LOCK:
        if farm.threads:
            return farm
        if farm.backend.isolation == "none":
            allowed = farm.options.allow_unisolated
            how = "allowed by --buildfarm-allow-unisolated" if allowed else "refused"
            log.warning("devpi-buildfarm: bubblewrap not found; unisolated builds are %s", how)
        metrics = metrics_for(xom)
        try:  # job directories and cgroups of a killed server
            farm.remove_leftovers()
        except OSError as exc:
            log_failure(log, exc, "devpi-buildfarm: could not remove what a killed server left",
                        metrics, "worker_errors_total")  # fmt: skip
        # before any worker runs: a worker's expiry check would count the attempt
        try:
            for job_id in farm.reclaim_orphans():
                log.warning("job %s: its server died mid-build; queued again", job_id)
        except Exception as exc:  # noqa: BLE001 - the lease expiry handles these jobs later
            log_failure(log, exc, "devpi-buildfarm: could not reclaim the jobs of a dead server",
                        metrics, "worker_errors_total")  # fmt: skip
        loops: list[Worker | Maintenance | Gauges] = [Maintenance(farm), Gauges(farm)]
        loops += [Worker(farm, n) for n in range(farm.options.workers)]
        for loop in loops:
            thread = threading.Thread(target=loop.run, name=f"buildfarm-{loop.name}", daemon=True)
            farm.threads.append(thread)
            thread.start()
        metrics.set("workers", farm.options.workers)
        metrics.set("unisolated", int(farm.backend.isolation == "none"))
        log.info("devpi-buildfarm: %d workers started", farm.options.workers)
    return farm


def on_upload(stage: Any, project: str, version: str, link: Any) -> None:
    xom = stage.xom
    if link.rel != "releasefile" or not devpi_store.is_sdist(link.basename):
        return
    if not devpi_store.targets_of(stage):
        return
    farm = ensure_running(xom)
    if farm is None:
        return
    for job_id in farm.enqueue_release(stage, project, version, link):
        metrics_for(xom).inc("jobs_queued_total")
        log.debug("job %s queued for %s", job_id, link.basename)
        farm.wake.set()


def on_upload_sync(stage: Any, project: str, version: str) -> None:
    """Queue an uploaded sdist's builds as soon as its upload commits (in a short thread
    the request starts then: the answer does not wait for it). devpi's event thread
    (:func:`on_upload`) queues them too, but it can look for the file in the moment between
    devpi's commit and the file's move into place, and then waits five seconds before it
    tries again; the queue records each build once, whichever path comes first."""
    if not devpi_store.targets_of(stage):
        return
    xom, name = stage.xom, stage.name

    def committed() -> None:
        try:
            with xom.keyfs.read_transaction():
                current = devpi_store.stage_named(xom, name)
                for link in devpi_store.release_files(current, project, version):
                    on_upload(current, project, version, link)
        except Exception as exc:  # noqa: BLE001 - the event thread queues them anyway
            log.warning("devpi-buildfarm: could not queue builds of %s %s on %s at once: %s "
                        "(devpi's event thread will)", project, version, name, exc)  # fmt: skip
            metrics_for(xom).inc("enqueue_errors_total")

    def start() -> None:  # the committing thread still holds its transaction
        threading.Thread(target=committed, name="buildfarm-queue", daemon=True).start()

    devpi_store.after_commit(stage, start)


def job_identity(request: Any, credentials: Any) -> JobIdentity | None:
    """The identity of a request made with a job credential, for what it allows."""
    if not credentials or not str(credentials[1]).startswith(PREFIX):
        return None
    farm = existing_farm(request.registry["xom"])
    grant = farm.credentials.find(*credentials) if farm is not None else None
    if grant is None or not grant.allows(request.method, request.path):
        return None
    if request.method == "POST" and not is_file_upload(request):
        return None  # no push, no register, no doc upload: only the wheel
    return JobIdentity(grant.username)


class Gauges:
    """The queue gauges of ``/+status``, kept off the request path (counting jobs grows
    with the queue): refreshed by this thread soon after the queue changed here, at most
    every :data:`GAUGE_SECONDS`, and every :data:`MAINTENANCE_SECONDS` regardless (servers
    sharing a PostgreSQL queue change it too)."""

    name = "gauges"

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.changed = threading.Event()
        farm.queue.changed_listeners.append(self.changed.set)

    def refresh(self) -> None:
        counts = self.farm.queue.counts()
        self.farm.metrics.set("jobs_queued", counts.get("queued", 0))
        self.farm.metrics.set("jobs_running", counts.get("running", 0))

    def run(self) -> None:
        while not self.farm.stopping.is_set():
            self.changed.clear()
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - logged and counted; tried again
                log_failure(log, exc, "devpi-buildfarm gauges: could not count the jobs",
                            self.farm.metrics, "worker_errors_total")  # fmt: skip
            self.changed.wait(MAINTENANCE_SECONDS)
            self.farm.stopping.wait(GAUGE_SECONDS)


class Worker:
    """An in-process worker: leases and runs jobs until the process ends."""

    def __init__(self, farm: Farm, number: int) -> None:
        self.farm = farm
        self.name = f"worker-{number}"
        self.idle_seconds = 1.0

    def run(self) -> None:
        while not self.farm.stopping.is_set():
            try:
                busy = self.farm.work_once(self.name)
            except Exception as exc:  # noqa: BLE001 - a worker must outlive any error; the next round retries
                log_failure(log, exc, f"devpi-buildfarm {self.name}", self.farm.metrics,
                            "worker_errors_total")  # fmt: skip
                busy = False
            if not busy:  # sleep until a job is queued (or a second has passed)
                self.farm.wake.wait(self.idle_seconds)
                self.farm.wake.clear()


class Maintenance:
    """Reconciliation at start (notifier events are not replayed after a crash), then
    periodic lease expiry and log pruning."""

    name = "maintenance"

    def __init__(self, farm: Farm) -> None:
        self.farm = farm

    def run(self) -> None:
        reconciled = False
        while not self.farm.stopping.is_set():
            try:
                if not reconciled:
                    queued = self.farm.reconcile()
                    reconciled = True
                    log.info("devpi-buildfarm: reconciliation queued %d builds", queued)
                now = time.time()
                self.farm.queue.requeue_expired(now=now)
                self.farm.logs.prune(older_than=now - self.farm.options.log_retention_days * 86400)
            except Exception as exc:  # noqa: BLE001 - keep maintaining; logged and counted
                log_failure(log, exc, "devpi-buildfarm maintenance", self.farm.metrics,
                            "worker_errors_total")  # fmt: skip
            self.farm.stopping.wait(MAINTENANCE_SECONDS if reconciled else 5.0)
