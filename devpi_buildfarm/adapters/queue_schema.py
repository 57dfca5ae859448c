"""Tables of the build queue and the engine that reaches them.

Times are seconds since the epoch (floats), the same on SQLite and PostgreSQL. The
schema is created when missing; its version is kept in ``buildfarm_meta`` so a later
release can migrate it.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

SCHEMA_VERSION: Final = 1
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
)

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
    # the lease query: the first due queued job of some builders, by priority and age. A
    # partial index holds only queued jobs, in lease order, so the planner walks it from
    # the start even when its statistics are stale (100k jobs queued in one burst)
    sa.Index(
        "ix_buildfarm_jobs_queued",
        "priority",
        "id",
        postgresql_where=sa.text("state = 'queued'"),
        sqlite_where=sa.text("state = 'queued'"),
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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+pg8000://...``)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def ensure_schema(engine: sa.Engine) -> None:
    """Create missing tables and record the schema version."""
    metadata.create_all(engine)
    for table in (jobs, logs):  # indexes added after a database was created
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    with engine.begin() as conn:
        found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).scalar()
        if found is None:
            conn.execute(meta.insert().values(key="schema", value=str(SCHEMA_VERSION)))
