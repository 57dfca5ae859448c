"""Schema version 1 -> 2 of the build queue: jobs, their ids and logs survive the migration."""

from __future__ import annotations

import threading
import zlib
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from devpi_buildfarm.adapters import queue_schema
from devpi_buildfarm.adapters.joblog import JobLogs
from devpi_buildfarm.adapters.queue_sql import SqlQueue
from devpi_buildfarm.core.jobs import JobState, Outcome
from devpi_buildfarm.errors import BuildfarmError
from harness import postgres
from harness.services import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from devpi_buildfarm.core.jobs import JobSpec

    Spec = Callable[..., JobSpec]

# the tables as version 1 of devpi-buildfarm created them
V1 = sa.MetaData()
sa.Table(
    "buildfarm_meta",
    V1,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
V1_JOBS = sa.Table(
    "buildfarm_jobs",
    V1,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("sdist", sa.String(512), nullable=False),
    sa.Column("sdist_sha256", sa.String(64), nullable=False),
    sa.Column("sdist_path", sa.Text, nullable=False),
    sa.Column("index", sa.String(255), nullable=False),
    sa.Column("upload_to", sa.String(255), nullable=False),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("builder", sa.String(128), nullable=False),
    sa.Column("policy", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False, default=3),
    sa.Column("priority", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("not_before", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("lease_owner", sa.String(255)),
    sa.Column("lease_expires", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("wheel", sa.String(512)),
    sa.Column("wheel_sha256", sa.String(64)),
    sa.Column("isolation", sa.String(32)),
    sa.Column("timings", sa.Text),
    sa.UniqueConstraint("sdist_sha256", "target", name="uq_buildfarm_jobs_sdist_target"),
    sa.Index(
        "ix_buildfarm_jobs_queued",
        "priority",
        "id",
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
    ),
    sa.Index("ix_buildfarm_jobs_project", "project"),
)
V1_LOGS = sa.Table(
    "buildfarm_logs",
    V1,
    sa.Column(
        "job_id",
        sa.Integer,
        sa.ForeignKey("buildfarm_jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.PrimaryKeyConstraint("job_id", "seq"),
)
TABLES = {"buildfarm_meta", "buildfarm_jobs", "buildfarm_logs"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, with no tables."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'v1.sqlite'}"
        return
    require(postgres.available(), "PostgreSQL on 127.0.0.1:5432")
    name = postgres.create_database("foundry_migrate")
    yield postgres.url(name, driver="postgresql+pg8000")
    postgres.drop_database(name)


def _row(spec: JobSpec, **values: object) -> dict[str, object]:
    fields = {name: getattr(spec, name) for name in queue_schema.SPEC_COLUMNS}
    del fields["requested_by"]
    row = {"attempts": 0, "max_attempts": 3, "priority": 0, "created": 1.0, "not_before": 1.0}
    return {**fields, **row, **values}


def _version_1(url: str, spec: Spec, *, version: str | None = "1") -> None:
    """Jobs 1 (succeeded, two log chunks) and 3 (skipped) of version 1; job 2 was deleted."""
    engine = queue_schema.make_engine(url)
    V1.create_all(engine)
    with engine.begin() as conn:
        if version is not None:
            conn.execute(V1.tables["buildfarm_meta"].insert().values(key="schema", value=version))
        done = _row(spec(1), state="succeeded", attempts=1, finished=5.0, wheel="p1.whl")
        done.update(wheel_sha256="b" * 64, isolation="bubblewrap", timings='{"build": 1.5}')
        for row in (done, _row(spec(2), state="queued"), _row(spec(3), state="skipped")):
            conn.execute(V1_JOBS.insert().values(**row))
        conn.execute(V1_JOBS.delete().where(V1_JOBS.c.id == 2))
        chunks = [(1, 0, b"hello "), (1, 1, b"world\n"), (3, 0, b"skipped\n")]
        conn.execute(
            V1_LOGS.insert(),
            [
                {"job_id": j, "seq": seq, "attempt": 1, "created": 2.0, "data": zlib.compress(d)}
                for j, seq, d in chunks
            ],
        )
    engine.dispose()


def _assert_migrated(queue: SqlQueue, spec: Spec) -> None:
    inspector = sa.inspect(queue.engine)
    assert set(inspector.get_table_names()) == TABLES
    (fk,) = inspector.get_foreign_keys("buildfarm_logs")
    assert (fk["referred_table"], fk["referred_columns"]) == ("buildfarm_jobs", ["id"])
    uniques = inspector.get_unique_constraints("buildfarm_jobs")
    assert [(u["name"], u["column_names"]) for u in uniques] == [
        ("uq_buildfarm_jobs_index_sdist_target", ["index", "sdist_sha256", "target"])
    ]
    assert {i["name"] for i in inspector.get_indexes("buildfarm_jobs")} >= {
        "ix_buildfarm_jobs_queued_builder",
        "ix_buildfarm_jobs_running_builder",
        "ix_buildfarm_jobs_project",
    }
    with queue.engine.connect() as conn:
        meta = queue_schema.meta
        assert conn.execute(sa.select(meta.c.value)).scalars().all() == ["3"]
    jobs = queue.list_jobs()
    assert [(j.id, j.state, j.spec.project, j.spec.requested_by) for j in jobs] == [
        (3, JobState.SKIPPED, "p3", None),
        (1, JobState.SUCCEEDED, "p1", None),
    ]
    assert (jobs[1].wheel, jobs[1].isolation, jobs[1].timings, jobs[1].record) == (
        "p1.whl",
        "bubblewrap",
        {"build": 1.5},
        {},  # jobs from before build records have none
    )
    logs = JobLogs(queue)
    assert (logs.read(1), logs.read(3)) == (b"hello world\n", b"skipped\n")


def test_version_1_is_migrated(empty_url: str, spec: Spec) -> None:
    _version_1(empty_url, spec)
    queue = SqlQueue.from_url(empty_url)
    _assert_migrated(queue, spec)
    assert queue.enqueue(spec(1), now=10) == (1, False)  # the same index: the same job
    other, created = queue.enqueue(replace(spec(1), index="bob/dev", requested_by="bob"), now=10)
    assert created
    assert other > 3  # ids go on after the old ones
    with queue.engine.begin() as conn:  # the logs' foreign key holds, and cascades
        orphan = {"job_id": 99, "seq": 0, "attempt": 1, "created": 0, "data": b""}
        with pytest.raises(sa.exc.DBAPIError), conn.begin_nested():
            conn.execute(queue_schema.logs.insert().values(**orphan))
        conn.execute(queue_schema.jobs.delete().where(queue_schema.jobs.c.id == 3))
    assert JobLogs(queue).read(3) == b""
    again = SqlQueue.from_url(empty_url)  # a restart: nothing more to migrate
    assert [j.id for j in again.list_jobs()] == [other, 1]
    for q in (queue, again):
        q.engine.dispose()


def test_version_1_that_did_not_record_itself_is_migrated(empty_url: str, spec: Spec) -> None:
    _version_1(empty_url, spec, version=None)
    queue = SqlQueue.from_url(empty_url)
    _assert_migrated(queue, spec)
    queue.engine.dispose()


def test_servers_starting_together_migrate_once(empty_url: str, spec: Spec) -> None:
    _version_1(empty_url, spec)
    queues: list[SqlQueue] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_queue() -> None:
        start.wait()
        try:
            queues.append(SqlQueue.from_url(empty_url))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_queue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(queues) == 4
    _assert_migrated(queues[0], spec)
    for queue in queues:
        queue.engine.dispose()


def test_a_newer_schema_is_refused(empty_url: str, spec: Spec) -> None:
    _version_1(empty_url, spec, version="4")
    with pytest.raises(BuildfarmError, match="buildfarm_meta schema '4': newer than"):
        SqlQueue.from_url(empty_url)


def test_version_2_gains_the_build_record(empty_url: str, spec: Spec) -> None:
    queue = SqlQueue.from_url(empty_url)
    job_id, _ = queue.enqueue(spec(1), now=1)
    queue.engine.dispose()
    engine = queue_schema.make_engine(empty_url)
    with engine.begin() as conn:  # what a version 2 database looks like
        conn.exec_driver_sql("ALTER TABLE buildfarm_jobs DROP COLUMN record")
        conn.execute(queue_schema.meta.update().values(value="2"))
    engine.dispose()
    queue = SqlQueue.from_url(empty_url)
    columns = {c["name"] for c in sa.inspect(queue.engine).get_columns("buildfarm_jobs")}
    assert "record" in columns
    (job,) = queue.list_jobs()
    assert (job.id, job.record) == (job_id, {})
    lease = queue.lease("w", {"local": 1}, now=2, seconds=60)
    assert lease is not None
    outcome = Outcome(wheel="p1.whl", wheel_sha256="c" * 64, isolation="x",
                      record={"observed": {"backend": "local"}})  # fmt: skip
    assert queue.succeed(job_id, "w", now=3, outcome=outcome)
    assert queue.list_jobs()[0].record == {"observed": {"backend": "local"}}
    queue.engine.dispose()
