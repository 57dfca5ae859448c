"""The in-process :class:`~devpi_buildfarm.core.ports.WorkerPort`: what a worker thread of
this server uses to reach the queue, the job's inputs and the publisher.

Inputs are read over HTTP from this server with the job credential (devpi checks the
identity's read permission on every file); nothing here opens a keyfs transaction. A
remote worker will get the same five calls over HTTP.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters import publisher, wheel_check
from devpi_buildfarm.adapters.fetching import fetch_to
from devpi_buildfarm.core.ports import IndexAccess, Lease
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from devpi_buildfarm.adapters.farm import Farm
    from devpi_buildfarm.core.jobs import Outcome
    from devpi_buildfarm.core.ports import BuildLog


class LocalPort:
    """A worker's port to the farm of its own server."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self._grants: dict[int, Any] = {}

    def lease(self, owner: str, capacities: Mapping[str, int]) -> Lease | None:
        farm = self.farm
        now = time.time()
        job = farm.queue.lease(owner, dict(capacities), now=now, seconds=farm.options.lease_seconds)
        if job is None:
            return None
        builder = farm.by_name[job.spec.builder]
        if not builder.serves(job.spec.target):  # the builders file changed since planning
            error = f"builder {builder.name!r} no longer serves target {job.spec.target!r}"
            farm.queue.fail(job.id, owner, now=now, error=error, timings={}, final=True)
            return None
        identity = job.spec.requested_by or job.spec.index.split("/", 1)[0]
        grant = farm.credentials.issue(job_id=job.id, username=identity,
                                       upload_to=job.spec.upload_to,
                                       seconds=builder.timeout + 600)  # fmt: skip
        self._grants[job.id] = grant
        access = IndexAccess(url=f"{farm.server_url}/{job.spec.index}/+simple/",
                             username=grant.username, password=grant.password)  # fmt: skip
        return Lease(job=job, owner=owner, access=access)

    def heartbeat(self, lease: Lease) -> bool:
        return self.farm.queue.heartbeat(lease.job.id, lease.owner, now=time.time(),
                                         seconds=self.farm.options.lease_seconds)  # fmt: skip

    def append_log(self, lease: Lease, data: bytes) -> None:
        self.farm.logs.append(lease.job.id, lease.job.attempts, data, now=time.time())

    def fetch_sdist(self, lease: Lease, dest: Path, log: BuildLog) -> None:
        spec = lease.job.spec
        log(f"devpi-buildfarm: fetching {spec.sdist} through the server as "
            f"{lease.access.username}\n".encode())  # fmt: skip
        digest = fetch_to(f"{self.farm.server_url}/{spec.sdist_path.split('#', 1)[0]}", dest,
                          username=lease.access.username, password=lease.access.password,
                          log=log)  # fmt: skip
        if digest != spec.sdist_sha256:
            msg = f"{spec.sdist!r} does not match its sha256"
            raise BuildError(msg, stage="fetch")

    def publish(self, lease: Lease, wheel: Path) -> tuple[str, bool]:
        wheel_check.verify(lease.job, wheel)
        return publisher.publish(self.farm.server_url, lease.job, self._grants[lease.job.id], wheel)

    def finish(  # noqa: PLR0913 - what an attempt leaves, all keyword-only
        self, lease: Lease, *, outcome: Outcome | None, error: str | None,
        timings: dict[str, float], final: bool = False, isolation: str | None = None,
    ) -> bool:  # fmt: skip
        grant = self._grants.pop(lease.job.id, None)
        if grant is not None:
            self.farm.credentials.revoke(grant)
        queue, now = self.farm.queue, time.time()
        if outcome is not None:
            done = queue.succeed(lease.job.id, lease.owner, now=now, outcome=outcome)
            self.farm.metrics.inc("jobs_succeeded_total" if done else "jobs_lost_total")
            return done
        done = queue.fail(lease.job.id, lease.owner, now=now, error=error or "failed",
                          timings=timings, final=final, isolation=isolation)  # fmt: skip
        if done:
            self.farm.metrics.inc("jobs_failed_total")
        return done
