"""What ``GET /{user}/{index}/+policy/audit`` answers (views.py is its HTTP side).

The JSON shape is stable and documented in docs/policy.md ("Audit of refusals").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.core.audit import parse_since

if TYPE_CHECKING:
    from devpi_policy.adapters.audit_writer import AuditWriter

#: how long a read waits for the refusals queued before it to be written
FLUSH_WAIT: Final = 2.0


def since_of(text: str | None) -> float | None:
    """``since`` of the query string as seconds since the epoch (``None``: all rows)."""
    return None if not text else parse_since(text, time.time())


def rows_of(
    writer: AuditWriter, index: str, since: float | None, request_id: str | None
) -> dict[str, Any]:
    """The audit rows of ``index``; refusals queued before the call are written first
    (up to FLUSH_WAIT). A server that never refused anything opens no database."""
    complete = writer.flush(FLUSH_WAIT)
    store = writer.reading_store()
    rows = [] if store is None else store.query(index=index, since=since, request_id=request_id)
    return {
        "index": index,
        "since": since,
        "request": request_id,
        "complete": complete,
        "dropped": int(writer.metrics.get("audit_dropped_total")),
        "rows": rows,
    }
