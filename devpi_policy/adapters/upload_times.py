"""The true upload time (and size) of a file an index holds: the one source of upload times.

* Mirror files: upstream's PEP 700 ``upload-time``, fetched by upstream_times.py when
  devpi (re)fetches the project page and replicated through keyfs. A lookup that finds no
  time on the primary waits (bounded by devpi's request timeout) for that fetch; only a
  failed fetch, or an upstream that gives no times, leaves a time unknown (``None``).
  With devpi-server 7, which keeps ``upload-time`` itself, only this module changes.
* Private files: the time of their first ``upload`` log entry (``devpi push`` copies the
  log, so pushed files keep their original time; a file pushed from a mirror takes the
  mirror's time). A wheel the build farm built (its ``build`` log entry names the sdist)
  takes its source sdist's time.

Lookups are memoised per keyfs serial, never inside a write transaction.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from devpi_policy.adapters import upstream_times
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.core.age import parse_instant

if TYPE_CHECKING:
    from collections.abc import Iterable

#: wait at most this long for an upstream fetch while serving (and at most devpi's timeout)
MAX_WAIT: Final = 15.0
_MEMO_SIZE: Final = 4096


@dataclass(frozen=True, kw_only=True, slots=True)
class FileTime:
    """What is known about a file: its upload time (``None``: unknown) and size."""

    uploaded: datetime | None
    upload_time: str | None  # as served (PEP 700 ``upload-time``)
    size: int | None


UNKNOWN: Final = FileTime(uploaded=None, upload_time=None, size=None)


def _from_upstream(row: Any) -> FileTime:
    _, text, size = ([*list(row), None, None, None])[:3]
    uploaded = None
    if isinstance(text, str):
        try:
            uploaded = parse_instant(text.replace("z", "Z"))
        except ValueError:
            text = None
    return FileTime(uploaded=uploaded, upload_time=text if uploaded else None, size=size)


def _from_log_time(when: Any) -> datetime | None:
    try:
        year, month, day, hour, minute, second = (int(v) for v in list(when)[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def served_time(moment: datetime) -> str:
    """PEP 700's form: ``2026-01-02T03:04:05.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Memo:
    """Per-serial memo of (index, project) -> file times, and of index name -> stage
    (devpi builds a stage object per ``getstage``: listings ask once per file)."""

    def __init__(self) -> None:
        self.times: SerialMemo[tuple[str, str], dict[str, FileTime]] = SerialMemo()
        self.stage_names: SerialMemo[str, Any] = SerialMemo()

    def table(self, xom: Any) -> dict[tuple[str, str], dict[str, FileTime]] | None:
        return self.times.table(xom)

    def stages(self, xom: Any) -> dict[str, Any] | None:
        return self.stage_names.table(xom)


def stage_by_name(xom: Any, name: str) -> Any:
    """``xom.model.getstage(name)``, memoised per keyfs serial (``None``: no such index)."""
    stages = _memo_of(xom).stages(xom)
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
    table = _memo_of(stage.xom).table(stage.xom)
    key = (str(stage.name), str(project))
    if table is not None and key in table:
        return table[key]
    if stage.ixconfig.get("type") == "mirror":
        files = _stored_mirror_times(stage, project)
    else:
        files = _private_times(stage, project)
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
    table = _memo_of(stage.xom).table(stage.xom)
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
        names = [n for n in names if _version_of(n) == version]
        if not names:
            continue
        times = [file_time(stage, project, name).uploaded for name in names]
        known = [t for t in times if t is not None]
        return min(known) if known else None
    return None


def _version_of(filename: str) -> str | None:
    from devpi_policy.core.evaluate import split_filename

    return split_filename(filename)[1]


def _stored_mirror_times(stage: Any, project: str) -> dict[str, FileTime]:
    record = upstream_times.stored(stage.xom, stage.name, project)
    files = {name: _from_upstream(row) for name, row in (record.get("files") or {}).items()}
    fetcher = upstream_times.existing_fetcher(stage.xom)
    fresh = None if fetcher is None else fetcher.fresh(stage.name, project)
    if fresh is not None and fresh[1]:  # newer than this transaction may see
        files.update({name: _from_upstream(row) for name, row in fresh[1].items()})
    return files


def _fetched_mirror_times(stage: Any, project: str) -> dict[str, FileTime] | None:
    """Fetch (or use a recent fetch of) the upstream page, waiting at most MAX_WAIT."""
    fetcher = upstream_times.fetcher(stage.xom)
    fresh = fetcher.fresh(stage.name, project)
    if fresh is not None:
        age = time.monotonic() - fresh[0]
        limit = upstream_times.RETRY_FAILED if fresh[1] is None else stage.cache_expiry
        if age < limit:
            return None  # asked recently: upstream does not list the file, or failed
    timeout = min(MAX_WAIT, float(stage.timeout or MAX_WAIT))
    files = fetcher.fetch(stage.name, project, timeout)
    if files is None:
        return None
    return {name: _from_upstream(row) for name, row in files.items()}


def _private_times(stage: Any, project: str) -> dict[str, FileTime]:
    files: dict[str, FileTime] = {}
    builds: dict[str, tuple[str, int | None]] = {}
    for version in stage.list_versions_perstage(project):
        linkstore = stage.get_linkstore_perstage(project, version)
        for link in linkstore.get_links(rel="releasefile"):
            size = _size(link)
            logs = link.get_logs()
            sdist = next((e.get("sdist") for e in logs if e.get("what") == "build"), None)
            if isinstance(sdist, str):
                builds[link.basename] = (sdist, size)
                continue
            files[link.basename] = _logged_time(stage, project, link.basename, logs, size)
    for name, (sdist, size) in builds.items():
        source = files.get(sdist) or _time_in_bases(stage, project, sdist)
        files[name] = FileTime(uploaded=source.uploaded, upload_time=source.upload_time, size=size)
    return files


def _logged_time(
    stage: Any, project: str, name: str, logs: list[Any], size: int | None
) -> FileTime:
    for entry in logs:
        if entry.get("what") == "upload":
            uploaded = _from_log_time(entry.get("when"))
            if uploaded is not None:
                return FileTime(uploaded=uploaded, upload_time=served_time(uploaded), size=size)
        if entry.get("what") == "push" and isinstance(entry.get("src"), str):
            source = stage_by_name(stage.xom, entry["src"])
            if source is not None and source.name != stage.name:
                found = file_time(source, project, name)
                return FileTime(uploaded=found.uploaded, upload_time=found.upload_time, size=size)
    return FileTime(uploaded=None, upload_time=None, size=size)


def _time_in_bases(stage: Any, project: str, filename: str) -> FileTime:
    for base in stage.sro():
        if base.name != stage.name and base.ixconfig.get("type") == "mirror":
            found = file_time(base, project, filename)
            if found.uploaded is not None:
                return found
    return UNKNOWN


#: file sizes by entry path: devpi's paths name the content's hash, so a size never changes
_SIZES: OrderedDict[str, int] = OrderedDict()
_SIZES_MAX: Final = 200_000
_SIZES_LOCK = threading.Lock()


def _size(link: Any) -> int | None:
    """The size of a private file (devpi keeps none in its metadata: a stat, memoised)."""
    path = str(getattr(link, "entrypath", ""))
    with _SIZES_LOCK:
        found = _SIZES.get(path)
    if found is not None:
        return found
    try:
        size = link.entry.file_size()
    except (OSError, AttributeError, KeyError):
        return None
    if not isinstance(size, int):
        return None
    with _SIZES_LOCK:
        _SIZES[path] = size
        while len(_SIZES) > _SIZES_MAX:
            _SIZES.popitem(last=False)
    return size
