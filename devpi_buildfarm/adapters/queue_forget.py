"""Forgetting an index in the build queue: its jobs, in every state, with their logs and
build records (a record is a column of its job's row)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from devpi_buildfarm.adapters.queue_schema import jobs, logs

if TYPE_CHECKING:
    from devpi_buildfarm.adapters.queue_sql import SqlQueue


def forget_index(queue: SqlQueue, index: str) -> int:
    """Delete every job of ``index`` and its log; how many jobs. A worker still building
    one finds its job gone when it reports (``succeed``/``fail`` answer ``False``), and
    its upload to the deleted index fails."""
    ids = sa.select(jobs.c.id).where(jobs.c.index == index)
    with queue._begin() as conn:  # noqa: SLF001 - the queue's write transaction
        conn.execute(logs.delete().where(logs.c.job_id.in_(ids)))
        return conn.execute(jobs.delete().where(jobs.c.index == index)).rowcount
