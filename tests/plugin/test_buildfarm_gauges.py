"""The build queue gauges of ``/+status`` follow the queue from a farm thread: a write to
the queue wakes it, and a ``/+status`` request only reads what it counted."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

from devpi_buildfarm.adapters import service
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.config import COUNTERS, GAUGES, METRICS_PREFIX
from devpi_buildfarm.core.jobs import JobSpec
from devpi_foundry_common.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def spec(n: int) -> JobSpec:
    return JobSpec(project=f"p{n}", version="1.0", sdist=f"p{n}-1.0.tar.gz",
                   sdist_sha256=f"{n:064x}", sdist_path=f"a/b/+f/0/p{n}-1.0.tar.gz",
                   index="a/b", upload_to="a/b", target="cp311-manylinux_x86_64",
                   builder="local")  # fmt: skip


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the gauges did not follow the queue"
        time.sleep(0.05)


def test_the_gauges_follow_queue_writes(tmp_path: Path) -> None:
    queue = SqlQueue.from_url(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    metrics = Metrics(METRICS_PREFIX, counters=COUNTERS, gauges=GAUGES)
    farm = SimpleNamespace(queue=queue, metrics=metrics, stopping=threading.Event())
    gauges = service.Gauges(farm)  # type: ignore[arg-type]
    thread = threading.Thread(target=gauges.run, daemon=True)
    thread.start()
    try:
        for n in range(3):
            queue.enqueue(spec(n), now=0)
        wait_until(lambda: metrics.get("jobs_queued") == 3)
        assert queue.lease("w", {"local": 1}, now=1, seconds=60) is not None
        wait_until(lambda: (metrics.get("jobs_queued"), metrics.get("jobs_running")) == (2, 1))
    finally:
        farm.stopping.set()
        gauges.changed.set()
        thread.join(10)
        queue.engine.dispose()
    assert not thread.is_alive()
