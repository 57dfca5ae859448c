"""Build jobs: their states, the events that move them, and retry timing.

```
queued --lease--> running --succeed--> succeeded
   ^                 |  \\--fail (attempts left) / expire--> queued (after a backoff)
   |                 \\----fail (no attempts left) / refuse--> failed
   +--retry-- failed | cancelled          queued | running --cancel--> cancelled
skipped: recorded instead of queued when a target needs no build (with the reason)
skipped --revive--> queued (asked for again)    running --reclaim--> queued (server died)
```

A job is one (index, sdist sha256, target): the queue stores it once per index that asked
for it, so one index cannot cancel or retry another's build.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Final

from devpi_buildfarm.errors import JobTransitionError


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class JobEvent(enum.StrEnum):
    LEASE = "lease"
    SUCCEED = "succeed"
    FAIL = "fail"
    #: a failure no retry would change (a refused requirement, a wheel that does not fit)
    REFUSE = "refuse"
    EXPIRE = "expire"
    CANCEL = "cancel"
    RETRY = "retry"
    #: a skipped target is asked for again (its plan now says it needs a build)
    REVIVE = "revive"
    #: the server that ran the job died; the interrupted attempt does not count
    RECLAIM = "reclaim"


FINAL: Final = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED}
)
#: The build steps whose durations every job records, in order.
STAGES: Final = ("fetch", "deps", "build", "repair", "smoke", "verify", "publish")

_MOVES: Final = {
    (JobState.QUEUED, JobEvent.LEASE): JobState.RUNNING,
    (JobState.RUNNING, JobEvent.SUCCEED): JobState.SUCCEEDED,
    (JobState.RUNNING, JobEvent.REFUSE): JobState.FAILED,
    (JobState.QUEUED, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.RUNNING, JobEvent.CANCEL): JobState.CANCELLED,
    (JobState.FAILED, JobEvent.RETRY): JobState.QUEUED,
    (JobState.CANCELLED, JobEvent.RETRY): JobState.QUEUED,
    (JobState.SKIPPED, JobEvent.REVIVE): JobState.QUEUED,
    (JobState.RUNNING, JobEvent.RECLAIM): JobState.QUEUED,
}


def transition(state: JobState, event: JobEvent, *, attempts: int, max_attempts: int) -> JobState:
    """The state after ``event``; a failed or expired attempt is retried while attempts remain.

    >>> transition(JobState.RUNNING, JobEvent.FAIL, attempts=1, max_attempts=3)
    <JobState.QUEUED: 'queued'>
    >>> transition(JobState.RUNNING, JobEvent.FAIL, attempts=3, max_attempts=3)
    <JobState.FAILED: 'failed'>
    """
    if state is JobState.RUNNING and event in (JobEvent.FAIL, JobEvent.EXPIRE):
        return JobState.QUEUED if attempts < max_attempts else JobState.FAILED
    try:
        return _MOVES[state, event]
    except KeyError:
        raise JobTransitionError(state, event) from None


def backoff(attempts: int, base: float = 30.0, cap: float = 3600.0) -> float:
    """Seconds to wait before attempt ``attempts + 1``: doubling from ``base``, capped.

    >>> [backoff(n) for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    """
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, kw_only=True, slots=True)
class JobSpec:
    """What to build: an sdist of an index, for one target, on one builder.

    ``requested_by`` is the devpi user whose identity the build runs and publishes as
    (``None`` when unknown, e.g. for jobs queued before the queue's schema version 2).
    """

    project: str
    version: str
    sdist: str
    sdist_sha256: str
    sdist_path: str
    index: str
    upload_to: str
    target: str
    builder: str
    policy: str | None = None
    requested_by: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """What a successful job published: the wheel, how it was isolated, step timings."""

    wheel: str
    wheel_sha256: str
    isolation: str
    timings: dict[str, float] = field(default_factory=dict)
    #: how the build ran: backend, environment, tool versions, commands, input and output
    #: digests (what provenance will sign)
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A job as the queue stores it."""

    id: int
    spec: JobSpec
    state: JobState
    attempts: int = 0
    max_attempts: int = 3
    priority: int = 0
    created: float = 0.0
    not_before: float = 0.0
    started: float | None = None
    finished: float | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    error: str | None = None
    reason: str | None = None
    wheel: str | None = None
    wheel_sha256: str | None = None
    isolation: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """The job as ``GET +buildfarm/jobs/<id>`` shows it."""
        return {
            "id": self.id,
            "state": str(self.state),
            "project": self.spec.project,
            "version": self.spec.version,
            "sdist": self.spec.sdist,
            "sdist_sha256": self.spec.sdist_sha256,
            "index": self.spec.index,
            "upload_to": self.spec.upload_to,
            "target": self.spec.target,
            "builder": self.spec.builder,
            "requested_by": self.spec.requested_by,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "created": self.created,
            "not_before": self.not_before,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "reason": self.reason,
            "wheel": self.wheel,
            "wheel_sha256": self.wheel_sha256,
            "isolation": self.isolation,
            "timings": dict(self.timings),
            "record": dict(self.record),
        }
