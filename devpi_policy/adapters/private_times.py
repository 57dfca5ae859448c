"""Upload times of the files a private index holds, from devpi's link logs.

A file's time is its first ``upload`` log entry; ``devpi push`` copies the log, so a pushed
file keeps its original time (a file pushed from a mirror takes the mirror's time). A wheel
the build farm built (its ``build`` log entry names the sdist) takes its source sdist's
time. Sizes come from the stored files (devpi keeps none in its metadata).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from devpi_policy.core.file_time import UNKNOWN, FileTime, from_log_time, served_time

#: ``lookup(stage, project, filename)``: the time of a file another index holds
Lookup = Callable[[Any, str, str], FileTime]


def private_times(
    stage: Any, project: str, lookup: Lookup, stage_by_name: Callable[[Any, str], Any]
) -> dict[str, FileTime]:
    """Every release file of ``project`` that ``stage`` (a private index) holds."""
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
            source = _logged_time(stage, project, link.basename, logs, (lookup, stage_by_name))
            files[link.basename] = FileTime(
                uploaded=source.uploaded, upload_time=source.upload_time, size=size
            )
    for name, (sdist, size) in builds.items():
        source = files.get(sdist) or _time_in_bases(stage, project, sdist, lookup)
        files[name] = FileTime(uploaded=source.uploaded, upload_time=source.upload_time, size=size)
    return files


def _logged_time(
    stage: Any,
    project: str,
    name: str,
    logs: list[Any],
    lookups: tuple[Lookup, Callable[[Any, str], Any]],
) -> FileTime:
    lookup, stage_by_name = lookups
    for entry in logs:
        if entry.get("what") == "upload":
            uploaded = from_log_time(entry.get("when"))
            if uploaded is not None:
                return FileTime(uploaded=uploaded, upload_time=served_time(uploaded), size=None)
        if entry.get("what") == "push" and isinstance(entry.get("src"), str):
            source = stage_by_name(stage.xom, entry["src"])
            if source is not None and source.name != stage.name:
                return lookup(source, project, name)
    return UNKNOWN


def _time_in_bases(stage: Any, project: str, filename: str, lookup: Lookup) -> FileTime:
    for base in stage.sro():
        if base.name != stage.name and base.ixconfig.get("type") == "mirror":
            found = lookup(base, project, filename)
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
