"""The true upload time (and size) of a file an index holds: the one source of upload times.

* Mirror files: upstream's PEP 700 ``upload-time``, fetched by upstream_times.py when
  devpi (re)fetches the project page and replicated through keyfs. A lookup that finds no
  time on the primary waits (bounded by devpi's request timeout) for that fetch; only a
  failed fetch, or an upstream that gives no times, leaves a time unknown (``None``).
  With devpi-server 7, which keeps ``upload-time`` itself, only this module changes.
* Private files: from devpi's upload logs (private_times.py).

Lookups are memoised per keyfs serial, never inside a write transaction. What a caller
derives from lookups may be kept as long as :class:`Validity` (see :func:`tracking`) says.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.adapters import upstream_times
from devpi_policy.adapters.private_times import private_times
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.core.evaluate import split_filename
from devpi_policy.core.file_time import UNKNOWN, FileTime, from_upstream, served_time

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime

__all__ = ["UNKNOWN", "FileTime", "served_time"]

#: wait at most this long for an upstream fetch while serving (and at most devpi's timeout)
MAX_WAIT: Final = 15.0
_MEMO_SIZE: Final = 4096


@dataclass
class Validity:
    """How long what was derived from lookups holds, beyond its keyfs serial: until an
    upstream fetch finishes (a time may arrive) and until ``until`` (monotonic; when a
    lookup that found no time would ask upstream again)."""

    fetches: int
    until: float = math.inf

    def holds(self) -> bool:
        return self.fetches == upstream_times.finished_fetches() and time.monotonic() < self.until


_TRACKED: ContextVar[Validity | None] = ContextVar("devpi_policy_times_validity", default=None)


@contextmanager
def tracking() -> Iterator[Validity]:
    """The validity of the lookups made inside the block."""
    validity = Validity(upstream_times.finished_fetches())
    token = _TRACKED.set(validity)
    try:
        yield validity
    finally:
        _TRACKED.reset(token)


def _valid_until(moment: float) -> None:
    tracked = _TRACKED.get()
    if tracked is not None:
        tracked.until = min(tracked.until, moment)


class _Memo:
    """Per-serial memo of (index, project) -> file times, and of index name -> stage
    (devpi builds a stage object per ``getstage``: listings ask once per file)."""

    def __init__(self) -> None:
        self.times: SerialMemo[tuple[str, str], dict[str, FileTime]] = SerialMemo()
        self.stage_names: SerialMemo[str, Any] = SerialMemo()


def stage_by_name(xom: Any, name: str) -> Any:
    """``xom.model.getstage(name)``, memoised per keyfs serial (``None``: no such index)."""
    stages = _memo_of(xom).stage_names.table(xom)
    if stages is None:
        return xom.model.getstage(name)
    try:
        return stages[name]
    except KeyError:
        found = stages[name] = xom.model.getstage(name)
        return found


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _memo_of(xom: Any) -> _Memo:  # noqa: ARG001 - xom is the cache key
    return _Memo()


def project_times(stage: Any, project: str) -> dict[str, FileTime]:
    """The files ``stage`` itself holds of ``project`` that have a known time or size."""
    table = _memo_of(stage.xom).times.table(stage.xom)
    key = (str(stage.name), str(project))
    if table is not None and key in table:
        return table[key]
    if stage.ixconfig.get("type") == "mirror":
        files = _stored_mirror_times(stage, project)
    else:
        files = private_times(stage, project, file_time, stage_by_name)
    if table is not None and len(table) < _MEMO_SIZE:
        table[key] = files
    return files


def file_time(stage: Any, project: str, filename: str) -> FileTime:
    """The time of a file ``stage`` holds; on a mirror's primary, a file without a stored
    time waits (bounded) for the upstream fetch."""
    found = project_times(stage, project).get(filename)
    if found is not None or stage.ixconfig.get("type") != "mirror" or stage.xom.is_replica():
        return found or UNKNOWN
    files = _fetched_mirror_times(stage, project)
    if files is None:
        return UNKNOWN
    table = _memo_of(stage.xom).times.table(stage.xom)
    merged = {**project_times(stage, project), **files}
    if table is not None:
        table[(str(stage.name), str(project))] = merged
    return merged.get(filename, UNKNOWN)


def release_time(stages: Iterable[Any], project: str, version: str) -> datetime | None:
    """When a release was first public: its earliest file time on the first index of
    ``stages`` (an inheritance path) that holds the version; ``None``: unknown."""
    for stage in stages:
        try:
            links = stage.get_simplelinks_perstage(project)
        except (stage.UpstreamError, stage.UpstreamNotFoundError):
            continue
        names = [link.key if hasattr(link, "key") else link[0] for link in links]
        names = [n for n in names if split_filename(n)[1] == version]
        if not names:
            continue
        times = [file_time(stage, project, name).uploaded for name in names]
        known = [t for t in times if t is not None]
        return min(known) if known else None
    return None


def _stored_mirror_times(stage: Any, project: str) -> dict[str, FileTime]:
    record = upstream_times.stored(stage.xom, stage.name, project)
    files = {name: from_upstream(row) for name, row in (record.get("files") or {}).items()}
    fetcher = upstream_times.existing_fetcher(stage.xom)
    fresh = None if fetcher is None else fetcher.fresh(stage.name, project)
    if fresh is not None and fresh[1]:  # newer than this transaction may see
        files.update({name: from_upstream(row) for name, row in fresh[1].items()})
    return files


def _fetched_mirror_times(stage: Any, project: str) -> dict[str, FileTime] | None:
    """Fetch (or use a recent fetch of) the upstream page, waiting at most MAX_WAIT."""
    fetcher = upstream_times.fetcher(stage.xom)
    fresh = fetcher.fresh(stage.name, project)
    if fresh is not None:
        limit = upstream_times.RETRY_FAILED if fresh[1] is None else stage.cache_expiry
        if time.monotonic() - fresh[0] < limit:
            _valid_until(fresh[0] + limit)  # until then, asking again finds nothing new
            return None  # asked recently: upstream does not list the file, or failed
    timeout = min(MAX_WAIT, float(stage.timeout or MAX_WAIT))
    files = fetcher.fetch(stage.name, project, timeout)
    if files is None:
        _valid_until(-math.inf)  # no answer yet (or a failure): ask again next time
        return None
    return {name: from_upstream(row) for name, row in files.items()}
