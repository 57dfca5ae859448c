"""The build queue in a relational database: SQLAlchemy Core, SQLite or PostgreSQL.

One row per (index, sdist sha256, target): an index enqueueing the same sdist twice adds
nothing, another index gets a job of its own. A worker *leases* a job of a builder with
room for it (:mod:`devpi_buildfarm.adapters.queue_lease`), keeps the lease alive with
heartbeats and loses it when it expires: :meth:`SqlQueue.requeue_expired` then counts the
attempt and queues the job again (or fails it when no attempts are left). Every state
change goes through :func:`devpi_buildfarm.core.jobs.transition`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from devpi_buildfarm.adapters import queue_lease
from devpi_buildfarm.adapters import queue_schema as schema
from devpi_buildfarm.core.jobs import (
    Job,
    JobEvent,
    JobSpec,
    JobState,
    Outcome,
    backoff,
    transition,
)
from devpi_buildfarm.errors import JobTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

jobs = schema.jobs


def _job(row: Any) -> Job:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's documented mapping view of a row
    spec = JobSpec(**{name: m[name] for name in schema.SPEC_COLUMNS})
    return Job(
        id=m["id"],
        spec=spec,
        state=JobState(m["state"]),
        attempts=m["attempts"],
        max_attempts=m["max_attempts"],
        priority=m["priority"],
        created=m["created"],
        not_before=m["not_before"],
        started=m["started"],
        finished=m["finished"],
        lease_owner=m["lease_owner"],
        lease_expires=m["lease_expires"],
        error=m["error"],
        reason=m["reason"],
        wheel=m["wheel"],
        wheel_sha256=m["wheel_sha256"],
        isolation=m["isolation"],
        timings=json.loads(m["timings"] or "{}"),
        record=json.loads(m["record"] or "{}"),
    )


def _move(state: JobState, event: JobEvent) -> JobState:
    """A move that does not depend on attempts, through the one transition function."""
    return transition(state, event, attempts=0, max_attempts=1)


class SqlQueue:
    """The job queue of one devpi-server (or of several sharing a PostgreSQL database)."""

    def __init__(
        self, engine: sa.Engine, *, max_attempts: int = 3, backoff_base: float = 30.0
    ) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.postgres = engine.dialect.name == "postgresql"
        #: called after each committed write of this process (cheap, non-blocking calls)
        self.changed_listeners: list[Callable[[], None]] = []
        # SQLite has one writer at a time; serialising this process's writers avoids
        # "database is locked" retries between worker threads
        self._write_lock = threading.Lock() if not self.postgres else None
        schema.ensure_schema(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SqlQueue:
        """A queue on a new engine for ``url`` (see :func:`queue_schema.make_engine`)."""
        engine = schema.make_engine(url)
        try:
            return cls(engine, **kwargs)
        except BaseException:
            engine.dispose()  # e.g. a schema it cannot migrate: close its connections
            raise

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A write transaction (under this process's SQLite writer lock); the change
        listeners are called once it is committed."""
        with self._write_lock or contextlib.nullcontext(), schema.begin_write(self.engine) as conn:
            yield conn
        for listener in self.changed_listeners:
            listener()

    # --- adding jobs ----------------------------------------------------------------------
    def enqueue(self, spec: JobSpec, *, now: float, priority: int = 0) -> tuple[int, bool]:
        """Queue ``spec``; ``(id, False)`` when its index already has a job for its
        (sdist, target).

        A job recorded as ``skipped`` (a wheel served the target then) is queued again with
        ``spec``'s builder, policy, upload index and requester: the plan now says the
        target needs a build.
        """
        job_id, created = self._insert(
            spec, now=now, priority=priority, state=JobState.QUEUED, reason=None
        )
        if not created and self._revive_skipped(job_id, spec, now=now):
            return job_id, True
        return job_id, created

    def _revive_skipped(self, job_id: int, spec: JobSpec, *, now: float) -> bool:
        revived = ("builder", "policy", "upload_to", "requested_by")
        values: dict[str, Any] = {name: getattr(spec, name) for name in revived}
        values.update(
            state=str(_move(JobState.SKIPPED, JobEvent.REVIVE)),
            attempts=0,
            not_before=now,
            finished=None,
            reason=None,
        )
        with self._begin() as conn:
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.state == str(JobState.SKIPPED))
                .values(**values)
            )
        return bool(result.rowcount == 1)

    def record_skip(self, spec: JobSpec, reason: str, *, now: float) -> tuple[int, bool]:
        """Record that ``spec`` needs no build, and why (a ``skipped`` job); ``(id, False)``
        when its index already has a job for its (sdist, target)."""
        return self._insert(spec, now=now, priority=0, state=JobState.SKIPPED, reason=reason)

    def _insert(
        self, spec: JobSpec, *, now: float, priority: int, state: JobState, reason: str | None
    ) -> tuple[int, bool]:
        values = {name: getattr(spec, name) for name in schema.SPEC_COLUMNS}
        values.update(
            state=str(state),
            attempts=0,
            max_attempts=self.max_attempts,
            priority=priority,
            created=now,
            not_before=now,
            finished=now if state is JobState.SKIPPED else None,
            reason=reason,
        )
        try:
            with self._begin() as conn:
                new_id = conn.execute(
                    jobs.insert().values(**values).returning(jobs.c.id)
                ).scalar_one()
        except IntegrityError:
            found = self.find(spec.index, spec.sdist_sha256, spec.target)
            if found is None:  # deleted in between: very unlikely, but not a duplicate
                raise
            return found.id, False
        return int(new_id), True

    # --- workers ----------------------------------------------------------------------------
    def lease(
        self, owner: str, builders: Mapping[str, int], *, now: float, seconds: float
    ) -> Job | None:
        """Take the next due job for ``owner`` until ``now + seconds``: a job of a builder
        in ``builders`` (name -> max_jobs) that runs fewer than its max_jobs jobs, counted
        over every process sharing the queue; ``None`` when there is none."""
        if not any(most > 0 for most in builders.values()):
            return None
        with self._begin() as conn:
            row = queue_lease.lease(conn, owner, builders, now=now, seconds=seconds)
        return None if row is None else _job(row)

    def running_counts(self) -> dict[str, int]:
        """Running jobs per builder; builders running none are left out."""
        with self.engine.connect() as conn:
            return queue_lease.running_counts(conn)

    def heartbeat(self, job_id: int, owner: str, *, now: float, seconds: float) -> bool:
        """Extend a lease; ``False`` when ``owner`` lost it (expired, cancelled, taken)."""
        stmt = (
            jobs.update()
            .where(
                jobs.c.id == job_id,
                jobs.c.lease_owner == owner,
                jobs.c.state == str(JobState.RUNNING),
            )
            .values(lease_expires=now + seconds)
        )
        with self._begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def succeed(self, job_id: int, owner: str, *, now: float, outcome: Outcome) -> bool:
        """Mark a leased job done; ``False`` when ``owner`` no longer holds it."""
        values = {
            "wheel": outcome.wheel,
            "wheel_sha256": outcome.wheel_sha256,
            "timings": json.dumps(outcome.timings),
            "isolation": outcome.isolation,
            "record": json.dumps(outcome.record, sort_keys=True),
        }
        return self._finish(job_id, owner, JobEvent.SUCCEED, now=now, values=values)

    def fail(  # noqa: PLR0913 - the job, its holder, and what the attempt left
        self,
        job_id: int,
        owner: str,
        *,
        now: float,
        error: str,
        timings: dict[str, float],
        final: bool = False,
        isolation: str | None = None,
    ) -> bool:
        """Record a failed attempt: queued again after a backoff, or failed for good (at
        once when ``final``: a failure that another attempt would repeat)."""
        return self._finish(
            job_id,
            owner,
            JobEvent.REFUSE if final else JobEvent.FAIL,
            now=now,
            values={"error": error[:4000], "timings": json.dumps(timings), "isolation": isolation},
        )

    def _finish(
        self, job_id: int, owner: str, event: JobEvent, *, now: float, values: dict[str, Any]
    ) -> bool:
        with self._begin() as conn:
            row = conn.execute(
                sa.select(jobs).where(jobs.c.id == job_id).with_for_update()
                if self.postgres
                else sa.select(jobs).where(jobs.c.id == job_id)
            ).first()
            if row is None:
                return False
            job = _job(row)
            if job.state is not JobState.RUNNING or job.lease_owner != owner:
                return False
            state = transition(
                job.state, event, attempts=job.attempts, max_attempts=job.max_attempts
            )
            update = {**values, **self._state_values(job, state, now)}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(**update))
        return True

    def _state_values(self, job: Job, state: JobState, now: float) -> dict[str, Any]:
        values: dict[str, Any] = {"state": str(state), "lease_owner": None, "lease_expires": None}
        if state is JobState.QUEUED:
            values["not_before"] = now + backoff(job.attempts, self.backoff_base)
        else:
            values["finished"] = now
        return values

    def requeue_expired(self, *, now: float) -> list[int]:
        """Jobs whose lease ran out (a worker or server died): retried or failed."""
        expired = []
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(jobs).where(
                    jobs.c.state == str(JobState.RUNNING), jobs.c.lease_expires < now
                )
            ).all()
            for row in rows:
                job = _job(row)
                state = transition(
                    job.state,
                    JobEvent.EXPIRE,
                    attempts=job.attempts,
                    max_attempts=job.max_attempts,
                )
                values = self._state_values(job, state, now)
                values["error"] = f"lease of {job.lease_owner!r} expired (worker or server died)"
                if state is JobState.QUEUED:
                    values["not_before"] = now  # not the build's fault: no backoff
                result = conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job.id, jobs.c.state == str(JobState.RUNNING))
                    .where(jobs.c.lease_expires < now)
                    .values(**values)
                )
                if result.rowcount == 1:
                    expired.append(job.id)
        return expired

    def reclaim(self, owners_dead: Callable[[str], bool], *, now: float) -> list[int]:
        """Queue again, at once, running jobs whose lease owner is known to be dead (a server
        killed mid-build and restarted); the interrupted attempt does not count."""
        reclaimed = []
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(jobs.c.id, jobs.c.lease_owner, jobs.c.attempts).where(
                    jobs.c.state == str(JobState.RUNNING)
                )
            ).all()
            for job_id, owner, attempts in rows:
                if not owner or not owners_dead(owner):
                    continue
                result = conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.state == str(JobState.RUNNING))
                    .where(jobs.c.lease_owner == owner)
                    .values(
                        state=str(_move(JobState.RUNNING, JobEvent.RECLAIM)),
                        attempts=max(0, attempts - 1),
                        lease_owner=None,
                        lease_expires=None,
                        not_before=now,
                        error=f"{owner} died during the build; queued again",
                    )
                )
                if result.rowcount == 1:
                    reclaimed.append(int(job_id))
        return reclaimed

    # --- users ------------------------------------------------------------------------------
    def cancel(self, job_id: int, *, now: float) -> Job:
        """Cancel a queued or running job (its worker notices at its next heartbeat)."""
        return self._user_event(job_id, JobEvent.CANCEL, now=now)

    def retry(self, job_id: int, *, now: float, requested_by: str | None = None) -> Job:
        """Queue a failed or cancelled job again, with its attempts reset; it then runs as
        ``requested_by`` (whoever asked for the retry) when given."""
        return self._user_event(job_id, JobEvent.RETRY, now=now, requested_by=requested_by)

    def _user_event(
        self, job_id: int, event: JobEvent, *, now: float, requested_by: str | None = None
    ) -> Job:
        with self._begin() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
            if row is None:
                msg = f"no build job {job_id}"
                raise KeyError(msg)
            job = _job(row)
            state = transition(job.state, event, attempts=0, max_attempts=job.max_attempts)
            values: dict[str, Any] = {"state": str(state), "lease_owner": None}
            if event is JobEvent.RETRY:
                values.update(attempts=0, not_before=now, finished=None, error=None)
                if requested_by:
                    values["requested_by"] = requested_by
            else:
                values.update(finished=now, lease_expires=None)
            result = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.state == str(job.state))
                .values(**values)
            )
            if result.rowcount != 1:
                raise JobTransitionError(str(job.state), str(event))
        found = self.get(job_id)
        assert found is not None  # noqa: S101 - updated above
        return found

    def get(self, job_id: int) -> Job | None:
        """The job ``job_id``, if there is one."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def find(self, index: str, sdist_sha256: str, target: str) -> Job | None:
        """The job of ``index`` for an sdist and a target, if there is one."""
        stmt = sa.select(jobs).where(
            jobs.c.index == index, jobs.c.sdist_sha256 == sdist_sha256, jobs.c.target == target
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _job(row)

    def list_jobs(
        self,
        *,
        states: Iterable[str] = (),
        project: str | None = None,
        index: str | None = None,
        limit: int = 200,
    ) -> list[Job]:
        """The newest ``limit`` jobs, of some states, a project or an index only."""
        stmt = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        wanted = list(states)
        if wanted:
            stmt = stmt.where(jobs.c.state.in_(wanted))
        if project:
            stmt = stmt.where(jobs.c.project == project)
        if index:
            stmt = stmt.where(jobs.c.index == index)
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(stmt)]

    def counts(self) -> dict[str, int]:
        """Jobs per state (every state, zero included)."""
        stmt = sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
        with self.engine.connect() as conn:
            found = {str(state): int(n) for state, n in conn.execute(stmt)}
        return {str(state): found.get(str(state), 0) for state in JobState}
