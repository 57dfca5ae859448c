"""The SQL build queue: enqueue once per index, leases, heartbeats, expiry, retries, logs."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.adapters.joblog import TRUNCATED, JobLogs
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.core.jobs import JobState, Outcome
from devpi_buildfarm.errors import JobTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.core.jobs import JobSpec

    Spec = Callable[..., JobSpec]

LOCAL = {"local": 100}  # the builder of the test jobs, room for all of them


def test_enqueue_is_idempotent_per_index_sdist_and_target(queue: SqlQueue, spec: Spec) -> None:
    first, created = queue.enqueue(spec(1), now=100)
    again, created_again = queue.enqueue(spec(1), now=200)
    other, _ = queue.enqueue(spec(1, target="cp312-manylinux_x86_64"), now=200)
    assert created
    assert not created_again
    assert first == again != other
    job = queue.get(first)
    assert job is not None
    assert (job.state, job.created, job.attempts) == (JobState.QUEUED, 100, 0)
    assert job.spec == spec(1)


def test_each_index_has_its_own_job(queue: SqlQueue, spec: Spec) -> None:
    alice = spec(1)
    bob = replace(alice, index="bob/dev", upload_to="bob/dev", requested_by="bob")
    alice_id, _ = queue.enqueue(alice, now=1)
    bob_id, created = queue.enqueue(bob, now=2)
    assert created
    assert alice_id != bob_id
    assert queue.enqueue(bob, now=3) == (bob_id, False)
    assert queue.record_skip(bob, "covered", now=4) == (bob_id, False)
    found = queue.find("bob/dev", alice.sdist_sha256, alice.target)
    assert found is not None
    assert (found.id, found.spec.requested_by) == (bob_id, "bob")
    assert queue.find("carol/dev", alice.sdist_sha256, alice.target) is None
    queue.cancel(bob_id, now=5)  # bob's job only: alice's build goes on
    job = queue.get(alice_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    skipped, created = queue.record_skip(replace(alice, index="carol/dev"), "covered", now=6)
    assert created
    assert skipped not in (alice_id, bob_id)


def test_the_requester_and_a_long_isolation_are_stored(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(replace(spec(1), requested_by="alice"), now=0)
    assert queue.lease("w", LOCAL, now=1, seconds=60) is not None
    isolation = (
        "bubblewrap uid=65534 cgroup-v1(memory=2147483648,pids=512) tmpfs(4294967296) timeout=1800"
    )
    outcome = Outcome(wheel="w.whl", wheel_sha256="0" * 64, isolation=isolation)
    assert queue.succeed(job_id, "w", now=2, outcome=outcome)
    job = queue.get(job_id)
    assert job is not None
    assert (job.spec.requested_by, job.isolation) == ("alice", isolation)
    assert job.as_json()["requested_by"] == "alice"


def test_skip_is_recorded_with_its_reason(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.record_skip(spec(2), "a wheel already serves it", now=5)
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.reason, job.finished) == (
        JobState.SKIPPED,
        "a wheel already serves it",
        5,
    )
    assert queue.lease("w", LOCAL, now=6, seconds=60) is None


def test_lease_takes_the_oldest_due_job_of_the_builders(queue: SqlQueue, spec: Spec) -> None:
    a, _ = queue.enqueue(spec(1), now=1)
    b, _ = queue.enqueue(spec(2, builder="arm"), now=2)
    c, _ = queue.enqueue(spec(3), now=3, priority=-1)
    leased = queue.lease("w1", LOCAL, now=10, seconds=60)
    assert leased is not None
    assert leased.id == c  # higher priority first
    assert (leased.state, leased.attempts, leased.lease_owner) == (JobState.RUNNING, 1, "w1")
    assert queue.lease("w1", LOCAL, now=10, seconds=60).id == a  # type: ignore[union-attr]
    assert queue.lease("w1", LOCAL, now=10, seconds=60) is None
    assert queue.lease("w2", {"arm": 10, "local": 10}, now=10, seconds=60).id == b  # type: ignore[union-attr]


def test_concurrent_leases_never_share_a_job(queue: SqlQueue, spec: Spec) -> None:
    for n in range(40):
        queue.enqueue(spec(n), now=0)
    taken: list[int] = []
    lock = threading.Lock()

    def work(owner: str) -> None:
        while (job := queue.lease(owner, LOCAL, now=1, seconds=60)) is not None:
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken))
    assert len(taken) == 40


def test_success_is_recorded_once_by_the_lease_holder(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    queue.lease("w1", LOCAL, now=1, seconds=60)
    wheel = "p1-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    outcome = Outcome(
        wheel=wheel, wheel_sha256="b" * 64, isolation="bubblewrap", timings={"build": 1.5}
    )
    assert not queue.succeed(job_id, "w2", now=2, outcome=outcome)
    assert queue.succeed(job_id, "w1", now=3, outcome=outcome)
    assert not queue.succeed(job_id, "w1", now=4, outcome=outcome)
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.finished, job.wheel, job.isolation) == (
        JobState.SUCCEEDED, 3, wheel, "bubblewrap",
    )  # fmt: skip
    assert job.timings == {"build": 1.5}
    assert job.lease_owner is None


def test_failures_back_off_then_fail_for_good(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    now = 0.0
    for attempt in (1, 2):
        job = queue.lease("w", LOCAL, now=now, seconds=60)
        assert job is not None
        assert job.attempts == attempt
        assert queue.fail(job_id, "w", now=now, error=f"boom {attempt}", timings={})
        job = queue.get(job_id)
        assert job is not None
        assert job.state is JobState.QUEUED
        assert job.not_before == now + 10 * 2 ** (attempt - 1)
        assert queue.lease("w", LOCAL, now=now + 1, seconds=60) is None  # not due yet
        now = job.not_before
    queue.lease("w", LOCAL, now=now, seconds=60)
    queue.fail(job_id, "w", now=now, error="boom 3", timings={})
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.error, job.attempts) == (JobState.FAILED, "boom 3", 3)


def test_a_final_failure_is_not_retried(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    queue.lease("w", LOCAL, now=1, seconds=60)
    assert queue.fail(job_id, "w", now=2, error="not an sdist", timings={}, final=True)
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.attempts, job.finished) == (JobState.FAILED, 1, 2)


def test_expired_leases_are_requeued_then_failed(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    queue.lease("dead", LOCAL, now=0, seconds=30)
    assert queue.requeue_expired(now=29) == []
    assert queue.heartbeat(job_id, "dead", now=20, seconds=30)  # alive until 50
    assert queue.requeue_expired(now=49) == []
    assert queue.requeue_expired(now=51) == [job_id]
    job = queue.get(job_id)
    assert job is not None
    assert job.state is JobState.QUEUED
    assert "expired" in (job.error or "")
    assert not queue.heartbeat(job_id, "dead", now=52, seconds=30)
    outcome = Outcome(wheel="w", wheel_sha256="0", isolation="none")
    assert not queue.succeed(job_id, "dead", now=52, outcome=outcome)
    for now in (100, 200):
        assert queue.lease("w", LOCAL, now=now, seconds=1) is not None
        queue.requeue_expired(now=now + 2)
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.attempts) == (JobState.FAILED, 3)


def test_cancel_and_retry(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    queue.lease("w", LOCAL, now=0, seconds=60)
    assert queue.cancel(job_id, now=1).state is JobState.CANCELLED
    assert not queue.heartbeat(job_id, "w", now=2, seconds=60)  # the worker stops building
    retried = queue.retry(job_id, now=3)
    assert (retried.state, retried.attempts, retried.not_before) == (JobState.QUEUED, 0, 3)
    with pytest.raises(JobTransitionError, match="cannot retry a job that is queued"):
        queue.retry(job_id, now=4)
    with pytest.raises(KeyError, match="no build job 999"):
        queue.cancel(999, now=4)


def test_list_and_counts(queue: SqlQueue, spec: Spec) -> None:
    for n in range(3):
        queue.enqueue(spec(n), now=n)
    queue.record_skip(spec(9), "covered", now=9)
    assert [j.spec.project for j in queue.list_jobs()] == ["p9", "p2", "p1", "p0"]
    assert [j.spec.project for j in queue.list_jobs(states=["queued"], project="p1")] == ["p1"]
    assert queue.counts()["queued"] == 3
    assert queue.counts()["skipped"] == 1
    assert queue.counts()["running"] == 0


def test_logs_are_compressed_capped_and_pruned(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=0)
    logs = JobLogs(queue, max_bytes=100)
    logs.append(job_id, 1, b"a" * 60, now=1)
    logs.append(job_id, 1, b"b" * 60, now=2)
    logs.append(job_id, 1, b"c" * 60, now=3)
    text = logs.read(job_id)
    assert text == b"a" * 60 + b"b" * 40 + TRUNCATED
    assert logs.read(job_id, offset=95) == b"b" * 5 + TRUNCATED
    assert logs.prune(older_than=10) == 0  # still queued
    queue.cancel(job_id, now=5)
    assert logs.prune(older_than=10) == 1
    assert logs.read(job_id) == b""


def test_schema_is_created_once(db_url: str, spec: Spec) -> None:
    first = SqlQueue.from_url(db_url)
    first.enqueue(spec(1), now=0)
    second = SqlQueue.from_url(db_url)  # a restart: the same tables, nothing lost
    assert second.find(spec(1).index, spec(1).sdist_sha256, spec(1).target) is not None
    first.engine.dispose()
    second.engine.dispose()


def test_a_skipped_job_is_queued_again_when_a_plan_needs_it(queue: SqlQueue, spec: Spec) -> None:
    skipped, _ = queue.record_skip(spec(7, builder=""), "a wheel served it", now=1)
    job_id, created = queue.enqueue(replace(spec(7), requested_by="alice"), now=2)
    assert (job_id, created) == (skipped, True)
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.spec.builder, job.spec.requested_by, job.reason, job.finished) == (
        JobState.QUEUED,
        "local",
        "alice",
        None,
        None,
    )
    assert queue.lease("w", LOCAL, now=3, seconds=60) is not None
    assert queue.enqueue(spec(7), now=4) == (job_id, False)  # running: left alone
    other, created = queue.enqueue(replace(spec(7), index="bob/dev"), now=5)
    assert created  # the skip was alice/dev's: bob/dev's plan gets a job of its own
    assert other != job_id


def test_reclaim_queues_the_jobs_of_dead_owners_at_once(queue: SqlQueue, spec: Spec) -> None:
    dead_id, _ = queue.enqueue(spec(1), now=1)
    alive_id, _ = queue.enqueue(spec(2), now=1)
    assert queue.lease("host:111:worker-0", LOCAL, now=2, seconds=60) is not None
    assert queue.lease("host:222:worker-0", LOCAL, now=2, seconds=60) is not None
    reclaimed = queue.reclaim(lambda owner: owner.startswith("host:111:"), now=3)
    assert reclaimed == [dead_id]
    job, alive = queue.get(dead_id), queue.get(alive_id)
    assert job is not None
    assert alive is not None
    assert (job.state, job.attempts, job.not_before, job.lease_owner) == (
        JobState.QUEUED,
        0,
        3,
        None,
    )
    assert "host:111:worker-0 died during the build" in (job.error or "")
    assert alive.state is JobState.RUNNING
    again = queue.lease("host:333:worker-0", LOCAL, now=3, seconds=60)
    assert again is not None
    assert (again.id, again.attempts) == (dead_id, 1)


def test_an_expired_lease_is_queued_without_backoff(queue: SqlQueue, spec: Spec) -> None:
    job_id, _ = queue.enqueue(spec(1), now=1)
    assert queue.lease("w", LOCAL, now=2, seconds=10) is not None
    assert queue.requeue_expired(now=20) == [job_id]
    job = queue.get(job_id)
    assert job is not None
    assert (job.state, job.not_before, job.attempts) == (JobState.QUEUED, 20, 1)
