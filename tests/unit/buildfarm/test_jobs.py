"""The job state machine and retry timing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from devpi_buildfarm.core.jobs import FINAL, Job, JobEvent, JobSpec, JobState, backoff, transition
from devpi_buildfarm.errors import JobTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable

S, E = JobState, JobEvent


@pytest.mark.parametrize(
    ("state", "event", "attempts", "expected"),
    [
        (S.QUEUED, E.LEASE, 0, S.RUNNING),
        (S.RUNNING, E.SUCCEED, 1, S.SUCCEEDED),
        (S.RUNNING, E.FAIL, 1, S.QUEUED),
        (S.RUNNING, E.FAIL, 3, S.FAILED),
        (S.RUNNING, E.EXPIRE, 2, S.QUEUED),
        (S.RUNNING, E.EXPIRE, 3, S.FAILED),
        (S.QUEUED, E.CANCEL, 0, S.CANCELLED),
        (S.RUNNING, E.CANCEL, 1, S.CANCELLED),
        (S.FAILED, E.RETRY, 3, S.QUEUED),
        (S.CANCELLED, E.RETRY, 1, S.QUEUED),
    ],
    ids=str,
)
def test_transitions(state: JobState, event: JobEvent, attempts: int, expected: JobState) -> None:
    assert transition(state, event, attempts=attempts, max_attempts=3) is expected


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.SUCCEEDED, E.RETRY),
        (S.SUCCEEDED, E.CANCEL),
        (S.SKIPPED, E.LEASE),
        (S.QUEUED, E.SUCCEED),
        (S.FAILED, E.LEASE),
        (S.QUEUED, E.FAIL),
    ],
    ids=str,
)
def test_refused_transitions(state: JobState, event: JobEvent) -> None:
    with pytest.raises(JobTransitionError, match=f"cannot {event} a job that is {state}"):
        transition(state, event, attempts=0, max_attempts=3)


def test_final_states_have_no_way_out_but_retry() -> None:
    for state in FINAL:
        for event in (E.LEASE, E.SUCCEED, E.FAIL, E.EXPIRE):
            with pytest.raises(JobTransitionError):
                transition(state, event, attempts=0, max_attempts=3)


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n, base=10) for n in range(1, 5)] == [10, 20, 40, 80]
    assert backoff(30) == 3600
    assert backoff(0) == 30


def test_job_as_json(spec: Callable[..., JobSpec]) -> None:
    data = Job(id=7, spec=spec(1), state=S.QUEUED, timings={"build": 1.5}).as_json()
    assert data["id"] == 7
    assert data["state"] == "queued"
    assert data["target"] == "cp311-manylinux_x86_64"
    assert data["timings"] == {"build": 1.5}


def test_refuse_revive_and_reclaim_go_through_the_transition_table() -> None:
    from devpi_buildfarm.core.jobs import JobEvent, JobState, transition

    assert transition(JobState.RUNNING, JobEvent.REFUSE, attempts=1, max_attempts=3) is (
        JobState.FAILED
    )  # another attempt would fail the same way
    assert transition(JobState.SKIPPED, JobEvent.REVIVE, attempts=0, max_attempts=3) is (
        JobState.QUEUED
    )
    assert transition(JobState.RUNNING, JobEvent.RECLAIM, attempts=1, max_attempts=1) is (
        JobState.QUEUED
    )
