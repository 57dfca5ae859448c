"""What runs next to a build: its log buffer and the heartbeat that keeps its lease."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devpi_buildfarm.adapters.farm import Farm
    from devpi_buildfarm.adapters.joblog import JobLogs
    from devpi_buildfarm.core.jobs import Job

log = logging.getLogger(__name__)


class LogBuffer:
    """Collects a build's output; writes it to the queue database at most every second."""

    def __init__(self, logs: JobLogs, job: Job) -> None:
        self.logs, self.job = logs, job
        self.parts: list[bytes] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, data: bytes) -> None:
        with self.lock:
            self.parts.append(data)
        if time.monotonic() - self.last > 1.0:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            data, self.parts = b"".join(self.parts), []
            self.last = time.monotonic()
        if data:
            try:
                self.logs.append(self.job.id, self.job.attempts, data, now=time.time())
            except Exception:
                log.exception("job %s: could not store log output", self.job.id)


class Heartbeat(threading.Thread):
    """Keeps a job's lease alive; sets ``lost`` when the job was cancelled or taken away."""

    def __init__(self, farm: Farm, job: Job, owner: str) -> None:
        super().__init__(name=f"buildfarm-heartbeat-{job.id}", daemon=True)
        self.farm, self.job, self.owner = farm, job, owner
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        seconds = self.farm.options.lease_seconds
        while not self.done.wait(max(1.0, seconds / 3)):
            try:
                alive = self.farm.queue.heartbeat(
                    self.job.id, self.owner, now=time.time(), seconds=seconds
                )
            except Exception:
                log.exception("job %s: heartbeat failed", self.job.id)
                continue
            if not alive:
                log.warning("job %s: lease lost (cancelled or expired); stopping", self.job.id)
                self.lost.set()
                return

    def stop(self) -> None:
        self.done.set()
