"""Leases: a job only for a builder asked for, and at most its max_jobs running at a time."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from devpi_buildfarm.adapters.queue_lease import LEASE_LOCK
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.core.jobs import Job, JobState, Outcome
from harness import postgres

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.core.jobs import JobSpec

    Spec = Callable[..., JobSpec]

OUTCOME = Outcome(wheel="w.whl", wheel_sha256="0" * 64, isolation="none")


def test_a_builder_runs_at_most_max_jobs(queue: SqlQueue, spec: Spec) -> None:
    first_id, _ = queue.enqueue(spec(1), now=0)
    second_id, _ = queue.enqueue(spec(2), now=0)
    first = queue.lease("w1", {"local": 1}, now=1, seconds=60)
    assert first is not None
    assert first.id == first_id
    assert queue.lease("w2", {"local": 1}, now=2, seconds=60) is None  # full
    assert queue.running_counts() == {"local": 1}
    assert queue.succeed(first_id, "w1", now=3, outcome=OUTCOME)
    second = queue.lease("w2", {"local": 1}, now=4, seconds=60)
    assert second is not None
    assert second.id == second_id


def test_only_builders_asked_for_are_leased(queue: SqlQueue, spec: Spec) -> None:
    queue.enqueue(spec(1, builder="arm"), now=0)
    assert queue.lease("w", {"local": 4}, now=1, seconds=60) is None
    assert queue.lease("w", {}, now=1, seconds=60) is None
    assert queue.lease("w", {"arm": 0}, now=1, seconds=60) is None
    job = queue.lease("w", {"arm": 1, "local": 4}, now=1, seconds=60)
    assert job is not None
    assert (job.spec.builder, job.state) == ("arm", JobState.RUNNING)


def test_a_full_builder_leaves_the_jobs_of_the_others(queue: SqlQueue, spec: Spec) -> None:
    for n in range(3):
        queue.enqueue(spec(n), now=n)
    arm_id, _ = queue.enqueue(spec(9, builder="arm"), now=9)
    builders = {"local": 2, "arm": 1}
    leased = [queue.lease("w", builders, now=10, seconds=60) for _ in range(4)]
    assert [job.spec.builder if job else None for job in leased] == ["local", "local", "arm", None]
    assert leased[2] is not None
    assert leased[2].id == arm_id
    assert queue.running_counts() == {"local": 2, "arm": 1}


def test_running_counts_follow_the_jobs(queue: SqlQueue, spec: Spec) -> None:
    assert queue.running_counts() == {}
    job_id, _ = queue.enqueue(spec(1), now=0)
    queue.lease("w", {"local": 1}, now=1, seconds=10)
    assert queue.running_counts() == {"local": 1}
    assert queue.requeue_expired(now=20) == [job_id]
    assert queue.running_counts() == {}


def test_concurrent_leases_respect_max_jobs(db_url: str, spec: Spec) -> None:
    """Four workers on two queues (two engines: as two processes would) and max_jobs=2."""
    jobs = 12
    queues = [SqlQueue.from_url(db_url) for _ in range(2)]
    for n in range(jobs):
        queues[0].enqueue(spec(n), now=0)
    lock = threading.Lock()
    held: list[int] = []
    peaks = {"held": 0, "running": 0}
    done: list[int] = []

    def work(queue: SqlQueue, owner: str) -> None:
        while len(done) < jobs:
            job = queue.lease(owner, {"local": 2}, now=1, seconds=60)
            if job is None:
                time.sleep(0.001)
                continue
            with lock:
                held.append(job.id)
                peaks["held"] = max(peaks["held"], len(held))
            running = queue.running_counts().get("local", 0)
            with lock:
                peaks["running"] = max(peaks["running"], running)
            time.sleep(0.02)
            with lock:
                held.remove(job.id)
            assert queue.succeed(job.id, owner, now=2, outcome=OUTCOME)
            with lock:
                done.append(job.id)

    threads = [
        threading.Thread(target=work, args=(queues[i % 2], f"w{i}"), daemon=True) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for queue in queues:
        queue.engine.dispose()
    assert sorted(done) == sorted(set(done))
    assert len(done) == jobs
    assert peaks == {"held": 2, "running": 2}


@pytest.mark.postgresql
def test_leases_on_postgresql_wait_for_the_lease_lock(pg_database: str, spec: Spec) -> None:
    queue = SqlQueue.from_url(postgres.url(pg_database, driver="postgresql+pg8000"))
    with queue.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE buildfarm_logs, buildfarm_jobs RESTART IDENTITY CASCADE")
    queue.enqueue(spec(1), now=0)
    leased: list[Job | None] = []
    worker = threading.Thread(
        target=lambda: leased.append(queue.lease("w", {"local": 1}, now=1, seconds=60))
    )
    with queue.engine.begin() as conn:  # another server's lease, in progress
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LEASE_LOCK)))
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()
    worker.join(timeout=10)
    assert [job.id if job else None for job in leased] == [1]
    queue.engine.dispose()
