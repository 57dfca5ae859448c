"""Creating the build queue's tables and migrating older ones, once, whoever starts first.

Everything runs in one transaction holding the database's schema lock: SQLite's write lock
(``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock. A server starting while another one
migrates waits, then finds the schema current; DDL is transactional on both, so a
migration that fails half-way leaves the old schema as it was.

Version 1 -> 2: a job is unique per (index, sdist sha256, target) instead of (sdist sha256,
target), jobs have a ``requested_by`` column (``NULL`` for the old ones), ``isolation`` is
``TEXT`` and the lease indexes are per builder. PostgreSQL alters the table in place (ids,
their sequence and the logs' foreign key stay as they are). SQLite cannot drop a table's
unique constraint, so both tables are rebuilt: renamed aside, created anew, copied with
their ids (the logs' foreign key then points at the new jobs table), dropped.

Version 2 -> 3: jobs have a ``record`` column (``NULL`` for the old ones): the build record
of a succeeded job.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from devpi_buildfarm.adapters import queue_schema as schema
from devpi_buildfarm.errors import BuildfarmError

#: Key of the PostgreSQL advisory lock held while the schema is checked or migrated.
SCHEMA_LOCK: Final = int.from_bytes(b"bfschema")
_V1_LEASE_INDEX: Final = "ix_buildfarm_jobs_queued"  # (priority, id): replaced per builder
_V1_UNIQUE: Final = "uq_buildfarm_jobs_sdist_target"


def ensure_schema(engine: sa.Engine) -> None:
    """Create missing tables, migrate older ones and record the schema version."""
    with schema.begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        existed = sa.inspect(conn).has_table(schema.jobs.name)
        schema.metadata.create_all(conn)
        meta = schema.meta
        found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema")).scalar()
        if found is None:  # new tables, or version 1 stopped before it recorded itself
            version = 1 if existed else schema.SCHEMA_VERSION
            conn.execute(meta.insert().values(key="schema", value=str(version)))
        elif found.isdigit():
            version = int(found)
        else:
            msg = f"buildfarm_meta schema {found!r}: not a version number"
            raise BuildfarmError(msg)
        if version > schema.SCHEMA_VERSION:
            msg = (
                f"buildfarm_meta schema {found!r}: newer than this devpi-buildfarm knows "
                f"({schema.SCHEMA_VERSION}); upgrade devpi-buildfarm"
            )
            raise BuildfarmError(msg)
        if version == 1:
            _v1_to_v2(conn)
        if version < 3:  # noqa: PLR2004 - the version that added the build record
            _add_record(conn)
        if version != schema.SCHEMA_VERSION:
            conn.execute(
                meta.update().where(meta.c.key == "schema").values(value=str(schema.SCHEMA_VERSION))
            )
        for table in (schema.jobs, schema.logs):  # indexes added after a database was created
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _add_record(conn: sa.Connection) -> None:
    """The ``record`` column, where a version 2 table (or a rebuilt version 1) lacks it."""
    names = {c["name"] for c in sa.inspect(conn).get_columns(schema.jobs.name)}
    if "record" not in names:
        column = sa.schema.CreateColumn(schema.jobs.c.record).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {schema.jobs.name} ADD COLUMN {column}")


def _v1_to_v2(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        _v1_to_v2_in_place(conn)
    else:
        _v1_to_v2_rebuilt(conn)


def _v1_to_v2_in_place(conn: sa.Connection) -> None:
    jobs = schema.jobs
    quote = conn.dialect.identifier_preparer.quote
    column = sa.schema.CreateColumn(jobs.c.requested_by).compile(dialect=conn.dialect)
    unique = next(
        c for c in jobs.constraints if isinstance(c, sa.UniqueConstraint) and c.name is not None
    )
    # by hand: sa.schema.AddConstraint would keep the constraint out of later CREATE TABLEs
    columns = ", ".join(quote(c.name) for c in unique.columns)
    for ddl in (
        f"ALTER TABLE {jobs.name} ADD COLUMN IF NOT EXISTS {column}",
        f"ALTER TABLE {jobs.name} ALTER COLUMN isolation TYPE TEXT",
        f"ALTER TABLE {jobs.name} DROP CONSTRAINT IF EXISTS {_V1_UNIQUE}",
        f"DROP INDEX IF EXISTS {_V1_LEASE_INDEX}",
        f"ALTER TABLE {jobs.name} ADD CONSTRAINT {unique.name} UNIQUE ({columns})",
    ):
        conn.exec_driver_sql(ddl)


def _v1_to_v2_rebuilt(conn: sa.Connection) -> None:
    jobs, logs = schema.jobs, schema.logs
    old_jobs, old_logs = f"{jobs.name}_v1", f"{logs.name}_v1"
    # index names are per database: the new tables' indexes would collide with the old's
    indexes = conn.execute(
        sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN (:jobs, :logs)"
        ),
        {"jobs": jobs.name, "logs": logs.name},
    ).scalars()
    for name in list(indexes):
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    # logs first: renaming the jobs table then points the old logs' foreign key at it
    conn.exec_driver_sql(f"ALTER TABLE {logs.name} RENAME TO {old_logs}")
    conn.exec_driver_sql(f"ALTER TABLE {jobs.name} RENAME TO {old_jobs}")
    schema.metadata.create_all(conn, tables=[jobs, logs])
    _copy(conn, old_jobs, jobs, skip={"requested_by", "record"})
    _copy(conn, old_logs, logs, where=sa.column("job_id").in_(sa.select(jobs.c.id)))
    conn.exec_driver_sql(f"DROP TABLE {old_logs}")  # nothing refers to it
    conn.exec_driver_sql(f"DROP TABLE {old_jobs}")  # nothing refers to it any more


def _copy(
    conn: sa.Connection,
    source: str,
    table: sa.Table,
    *,
    skip: set[str] | None = None,
    where: sa.ColumnElement[bool] | None = None,
) -> None:
    names = [c.name for c in table.c if c.name not in (skip or set())]
    old = sa.table(source, *(sa.column(name) for name in names))
    select = sa.select(*old.c)
    if where is not None:
        select = select.where(where)
    conn.execute(table.insert().from_select(names, select))
