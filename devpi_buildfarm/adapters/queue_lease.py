"""Leasing a job: the next due queued job of a builder that has room for one more.

A builder runs at most its ``max_jobs`` jobs at a time, across the threads and processes
of all servers sharing the queue. The capacity check and the lease are therefore one
serialised step: one write transaction that first takes the queue's lease lock (on
PostgreSQL an advisory lock; on SQLite the database's write lock, taken by
``BEGIN IMMEDIATE``), then leases, in one ``UPDATE``, the first due job (by priority and
age) of the builders that run fewer than their max_jobs jobs. Leases are the only way
into ``running``, so no count can grow between the check and the lease.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from devpi_buildfarm.adapters import queue_schema as schema
from devpi_buildfarm.core.jobs import JobEvent, JobState, transition

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Key of the PostgreSQL advisory lock that serialises leases.
LEASE_LOCK: Final = int.from_bytes(b"bflease\0")
_RUNNING: Final = str(transition(JobState.QUEUED, JobEvent.LEASE, attempts=0, max_attempts=1))
jobs = schema.jobs
_running = jobs.alias("running")
# one round trip: the lock, and the planner settings of this transaction's lease
_LOCK_AND_PLAN: Final = sa.text(
    f"SELECT pg_advisory_xact_lock({LEASE_LOCK:d}), set_config('enable_bitmapscan', 'off', true),"
    " set_config('enable_sort', 'off', true)"
)


def _in_state(column: sa.ColumnElement[Any], state: JobState) -> sa.ColumnElement[bool]:
    # a literal, not a parameter: from it alone SQLite knows that the partial index of the
    # state holds every row asked for, and counts running jobs in the index only
    return column == sa.literal_column(f"'{state}'", type_=sa.String)


def running_counts(conn: sa.Connection) -> dict[str, int]:
    """Running jobs per builder; builders running none are left out."""
    stmt = (
        sa.select(jobs.c.builder, sa.func.count())
        .where(_in_state(jobs.c.state, JobState.RUNNING))
        .group_by(jobs.c.builder)
    )
    return {str(builder): int(n) for builder, n in conn.execute(stmt)}


def _first_due(n: int, *columns: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The first due queued job of builder ``:name_<n>`` while it runs fewer than
    ``:most_<n>`` jobs."""
    busy = (
        sa.select(sa.func.count())
        .select_from(_running)
        .where(
            _in_state(_running.c.state, JobState.RUNNING),
            _running.c.builder == sa.bindparam(f"name_{n}", type_=jobs.c.builder.type),
        )
        .scalar_subquery()
    )  # not correlated: computed once, and the walk below is skipped when the builder is full
    return (
        sa.select(*columns)
        .where(
            _in_state(jobs.c.state, JobState.QUEUED),
            jobs.c.builder == sa.bindparam(f"name_{n}"),
            jobs.c.not_before <= sa.bindparam("now", type_=sa.Float),
            busy < sa.bindparam(f"most_{n}", type_=sa.Integer),
        )
        .order_by(jobs.c.priority, jobs.c.id)
        .limit(1)
    )


@functools.lru_cache(maxsize=32)
def _statement(builders: int) -> sa.Update:
    """The lease of a job of one of ``builders`` builders: each builder's first due job
    comes from the walk of its part of the partial index, then the best of those."""
    if builders == 1:
        next_due = _first_due(0, jobs.c.id).scalar_subquery()
    else:
        firsts = [
            sa.select(_first_due(n, jobs.c.id, jobs.c.priority).subquery()) for n in range(builders)
        ]
        union = sa.union_all(*firsts).subquery()
        next_due = (
            sa.select(union.c.id).order_by(union.c.priority, union.c.id).limit(1)
        ).scalar_subquery()
    return (
        jobs.update()
        .where(jobs.c.id == next_due, jobs.c.state == str(JobState.QUEUED))
        .values(
            state=_RUNNING,
            lease_owner=sa.bindparam("owner", type_=jobs.c.lease_owner.type),
            lease_expires=sa.bindparam("expires", type_=sa.Float),
            attempts=jobs.c.attempts + 1,
            started=sa.bindparam("now"),
            error=None,
        )
        .returning(*jobs.c)
    )


def lease(
    conn: sa.Connection,
    owner: str,
    builders: Mapping[str, int],
    *,
    now: float,
    seconds: float,
) -> sa.Row[Any] | None:
    """Lease, in ``conn``'s write transaction, the next due job of a builder of
    ``builders`` (name -> max_jobs) that runs fewer than its max_jobs jobs."""
    builders = {name: most for name, most in builders.items() if most > 0}
    if not builders:
        return None
    if conn.dialect.name == "postgresql":
        # before the statement that counts: its snapshot then holds every earlier lease.
        # The right plan is always the ordered walk of the partial index of queued jobs;
        # right after a burst of enqueues PostgreSQL's statistics still say "a few rows"
        # and it would sort the whole queue instead (40 ms at 100k)
        conn.execute(_LOCK_AND_PLAN)
    else:
        # SQLite tests the statement's count at each job it walks, not once before the
        # walk: a full builder's queued jobs would all be walked (5 ms at 100k). Its
        # write lock is held already, so the counts cannot change before the lease
        running = running_counts(conn)
        builders = {name: most for name, most in builders.items() if running.get(name, 0) < most}
        if not builders:
            return None
    params: dict[str, Any] = {"now": now, "owner": owner, "expires": now + seconds}
    for n, (name, most) in enumerate(sorted(builders.items())):
        params.update({f"name_{n}": name, f"most_{n}": most})
    return conn.execute(_statement(len(builders)), params).first()
