"""Forgetting an index deletes its jobs in every state with their logs, nothing else."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from devpi_buildfarm.adapters.joblog import JobLogs
from devpi_buildfarm.adapters.queue_forget import forget_index
from devpi_buildfarm.core.jobs import JobState

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_buildfarm.adapters.queue_sql import SqlQueue
    from devpi_buildfarm.core.jobs import JobSpec

    Spec = Callable[..., JobSpec]


def test_an_index_is_forgotten_with_its_logs_and_no_other(queue: SqlQueue, spec: Spec) -> None:
    logs = JobLogs(queue)
    queued, _ = queue.enqueue(spec(1), now=1)
    running, _ = queue.enqueue(spec(2), now=1)
    skipped, _ = queue.record_skip(spec(3), "covered", now=1)
    other, _ = queue.enqueue(replace(spec(1), index="bob/dev", upload_to="bob/dev"), now=1)
    for job_id in (queued, running, other):
        logs.append(job_id, 1, b"building\n", now=2)
    leased = queue.lease("w", {"local": 1}, now=3, seconds=60)
    assert leased is not None
    assert leased.id in (queued, running)
    assert forget_index(queue, "alice/dev") == 3
    assert [queue.get(j) for j in (queued, running, skipped)] == [None, None, None]
    assert logs.read(queued) == logs.read(running) == b""
    kept = queue.get(other)
    assert kept is not None
    assert kept.state is JobState.QUEUED
    assert logs.read(other) == b"building\n"
    assert forget_index(queue, "alice/dev") == 0
    # the same sdist again is a new job, not the forgotten one
    again, created = queue.enqueue(spec(1), now=4)
    assert created
    assert again not in (queued, running, skipped)
