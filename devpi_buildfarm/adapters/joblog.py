"""Build logs in the queue database: appended in compressed chunks while a build runs
(so ``devpi build show --follow`` streams them), capped in size, pruned after retention.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa

from devpi_buildfarm.adapters.queue_schema import jobs, logs

if TYPE_CHECKING:
    from devpi_buildfarm.adapters.queue_sql import SqlQueue

TRUNCATED: Final = b"\n[devpi-buildfarm: log truncated at the size limit]\n"


class JobLogs:
    """The logs of one queue's jobs."""

    def __init__(self, queue: SqlQueue, *, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.queue = queue
        self.max_bytes = max_bytes
        self._sizes: dict[int, int] = {}

    def append(self, job_id: int, attempt: int, data: bytes, *, now: float) -> None:
        """Add ``data`` to a job's log, up to ``max_bytes`` in all (then a marker)."""
        if not data:
            return
        size = self._sizes.get(job_id)
        if size is None:
            size = self.size(job_id)
        if size >= self.max_bytes:
            return
        room = self.max_bytes - size
        if len(data) > room:
            data = data[:room] + TRUNCATED
        with self.queue._begin() as conn:  # noqa: SLF001 - the queue's write transaction
            seq = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(logs.c.seq), -1) + 1).where(
                    logs.c.job_id == job_id
                )
            ).scalar_one()
            conn.execute(
                logs.insert().values(
                    job_id=job_id,
                    seq=seq,
                    attempt=attempt,
                    created=now,
                    data=zlib.compress(data, 6),
                )
            )
        self._sizes[job_id] = size + len(data)

    def size(self, job_id: int) -> int:
        """Uncompressed bytes stored for ``job_id``."""
        return len(self.read(job_id))

    def read(self, job_id: int, offset: int = 0) -> bytes:
        """A job's log from byte ``offset`` on (all attempts, oldest first)."""
        stmt = sa.select(logs.c.data).where(logs.c.job_id == job_id).order_by(logs.c.seq)
        with self.queue.engine.connect() as conn:
            text = b"".join(zlib.decompress(chunk) for (chunk,) in conn.execute(stmt))
        return text[offset:]

    def prune(self, *, older_than: float) -> int:
        """Delete the logs of jobs that finished before ``older_than``; how many jobs."""
        finished = sa.select(jobs.c.id).where(
            jobs.c.finished.is_not(None), jobs.c.finished < older_than
        )
        with self.queue._begin() as conn:  # noqa: SLF001
            ids = [row[0] for row in conn.execute(finished)]
            if ids:
                conn.execute(logs.delete().where(logs.c.job_id.in_(ids)))
        for job_id in ids:
            self._sizes.pop(job_id, None)
        return len(ids)
