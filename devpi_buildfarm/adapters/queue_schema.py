"""Tables of the build queue and the engine that reaches them.

Times are seconds since the epoch (floats), the same on SQLite and PostgreSQL. The
schema is created when missing; its version is kept in ``buildfarm_meta`` and older
databases are migrated (:mod:`devpi_buildfarm.adapters.queue_migrate`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMA_VERSION: Final = 3
SPEC_COLUMNS: Final = (
    "project",
    "version",
    "sdist",
    "sdist_sha256",
    "sdist_path",
    "index",
    "upload_to",
    "target",
    "builder",
    "policy",
    "requested_by",
)

#: The execution option :func:`begin_write` sets (read by the SQLite ``begin`` hook).
WRITE_OPTION: Final = "buildfarm_write"

metadata = sa.MetaData()

meta = sa.Table(
    "buildfarm_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

jobs = sa.Table(
    "buildfarm_jobs",
    metadata,
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
    sa.Column("requested_by", sa.String(255)),
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
    sa.Column("isolation", sa.Text),
    sa.Column("timings", sa.Text),
    #: how a succeeded build ran (JSON: backend, environment, tools, commands, digests)
    sa.Column("record", sa.Text),
    # a job belongs to the index that asked for it: two indexes building one sdist for one
    # target have a job each (and cannot cancel or retry each other's)
    sa.UniqueConstraint(
        "index", "sdist_sha256", "target", name="uq_buildfarm_jobs_index_sdist_target"
    ),
    # the lease query: the first due queued job of each free builder, by priority and age.
    # A partial index holds only queued jobs, per builder in lease order, so the planner
    # walks it from the start even when its statistics are stale (100k jobs queued in one
    # burst), and a builder's jobs are found without walking past those of busy builders
    sa.Index(
        "ix_buildfarm_jobs_queued_builder",
        "builder",
        "priority",
        "id",
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
    ),
    # the capacity check of each lease: running jobs per builder
    sa.Index(
        "ix_buildfarm_jobs_running_builder",
        "builder",
        postgresql_where=sa.text("state = 'running'"),
        sqlite_where=sa.text("state = 'running'"),
    ),
    sa.Index("ix_buildfarm_jobs_project", "project"),
)

logs = sa.Table(
    "buildfarm_logs",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey(jobs.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.PrimaryKeyConstraint("job_id", "seq"),
)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (below), so DDL is transactional too
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # a write transaction takes the database's write lock when it begins, not at its first
    # write: what it read cannot change before it writes, even in another process
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+pg8000://...``)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


@contextlib.contextmanager
def begin_write(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: on SQLite ``BEGIN IMMEDIATE`` (one writer at a time, across
    processes), on PostgreSQL an ordinary one."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def ensure_schema(engine: sa.Engine) -> None:
    """Create missing tables, migrate older ones and record the schema version."""
    from devpi_buildfarm.adapters import queue_migrate

    queue_migrate.ensure_schema(engine)
