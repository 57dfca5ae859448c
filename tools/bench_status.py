"""Benchmark: ``/+status`` of a devpi-server with the plugins, with 10 and with 100k build
jobs in its queue (issue 17: per-request work must not grow with the data).

For each size the queue database is filled before the server starts (jobs of every final
state plus a few queued for a builder no worker serves, so nothing builds), an index gets
``buildfarm_targets`` so the farm and its threads run, and ``/+status`` is fetched
``--requests`` times. Also timed: what each ``/+status`` used to run before the gauges moved
off the request path (``SqlQueue.counts()``, counting every job).

Usage: python tools/bench_status.py [--jobs 10 --jobs 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

from devpi_buildfarm.adapters import queue_schema
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from harness.api import DevpiApi
from harness.server import ROOT_PASSWORD, DevpiServer

BINDIR = Path(sys.executable).parent
STATES = ("succeeded", "failed", "cancelled", "skipped")
QUEUED = 5  # jobs queued for a builder no worker serves (the gauge the bench waits for)


def fill(db: str, jobs: int) -> None:
    """``jobs`` jobs: all but :data:`QUEUED` finished, those queued for a builder that does
    not exist."""
    queue = SqlQueue.from_url(db)
    now = time.time()
    rows = [
        {"project": f"p{n}", "version": "1.0", "sdist": f"p{n}-1.0.tar.gz",
         "sdist_sha256": f"{n:064x}", "sdist_path": f"a/b/+f/{n}/p{n}-1.0.tar.gz",
         "index": "a/b", "upload_to": "a/b", "target": "cp311-manylinux_x86_64",
         "builder": "local" if n >= QUEUED else "nobody-serves-this",
         "state": STATES[n % len(STATES)] if n >= QUEUED else "queued",
         "attempts": 1, "max_attempts": 3, "priority": 0, "created": now, "not_before": now}
        for n in range(jobs)
    ]  # fmt: skip
    with queue.engine.begin() as conn:
        for start in range(0, jobs, 10_000):
            conn.execute(queue_schema.jobs.insert(), rows[start : start + 10_000])
    queue.engine.dispose()


def counts_ms(db: str, rounds: int) -> float:
    """Median milliseconds of ``SqlQueue.counts()`` (the old per-request work)."""
    queue = SqlQueue.from_url(db)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        queue.counts()
        times.append((time.perf_counter() - started) * 1000)
    queue.engine.dispose()
    return statistics.median(times)


def status_ms(url: str, requests: int) -> tuple[float, float]:
    """(p50, p99) milliseconds of ``GET /+status`` (JSON)."""
    req = urllib.request.Request(f"{url}/+status", headers={"Accept": "application/json"})  # noqa: S310 - loopback
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            resp.read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]


def gauge(url: str, name: str) -> float:
    req = urllib.request.Request(f"{url}/+status", headers={"Accept": "application/json"})  # noqa: S310 - loopback
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        metrics = json.load(resp)["result"]["metrics"]
    return float(next(value for key, _, value in metrics if key == name))


def run(work: Path, jobs: int, requests: int) -> list[tuple[str, float]]:
    db = f"sqlite:///{work / 'queue.sqlite'}"
    fill(db, jobs)
    server = DevpiServer(work / "serverdir", BINDIR, args=("--buildfarm-db", db)).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        root.create_index("root/dev", bases=[], buildfarm_targets=["cp311-manylinux_x86_64"])
        deadline = time.monotonic() + 60
        while gauge(server.url, "devpi_buildfarm_jobs_queued") != QUEUED:
            assert time.monotonic() < deadline, "the gauges never counted the queue"  # noqa: S101
            time.sleep(0.2)
        p50, p99 = status_ms(server.url, requests)
    finally:
        server.stop()
    return [
        (f"/+status p50, {jobs} jobs (ms)", p50),
        (f"/+status p99, {jobs} jobs (ms)", p99),
        (f"SqlQueue.counts(), {jobs} jobs: the old per-request work (ms)", counts_ms(db, 20)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, action="append", help="queue sizes (10, 100000)")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for jobs in args.jobs or [10, 100_000]:
        with TemporaryDirectory(prefix="bench-status-") as tmp:
            rows += run(Path(tmp), jobs, args.requests)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
