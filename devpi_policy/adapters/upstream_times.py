"""Upload times of a mirror's files, fetched from its upstream's PEP 691 JSON page.

devpi-server 6.20 drops PEP 700's ``upload-time`` when it reads a mirror's page. When
devpi (re)fetches a project page (a ``PROJSIMPLELINKS`` change), this module fetches the
same page as PEP 691 JSON (same ``mirror_url``, credentials and timeout; its own ETag) on
devpi's event thread and stores each file's sha256, upload time and size in a keyfs key of the
mirror index, so replicas receive them with devpi's replication. Only upload/devpi upstream
data is stored: a file whose upstream gives no time has none (never the local clock).

Only :mod:`devpi_policy.adapters.upload_times` uses this module: with devpi-server 7, whose
mirrors keep ``upload-time``, that module can read devpi's field instead.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Final

from devpi_foundry_common.singletons import per_server

log = logging.getLogger(__name__)
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
TIMES_KEY: Final = "POLICYUPLOADTIMES"
PROJECTS_KEY: Final = "POLICYUPLOADTIMESPROJECTS"
#: seconds before a failed fetch is tried again
RETRY_FAILED: Final = 30.0
#: (sha256, upload time as RFC 3339 or None, size or None) per file name
Files = dict[str, list[Any]]
#: fetches finished in this process (any server): what was computed from the fetchers'
#: state at another count may be out of date (see upload_times.Validity)
_FINISHED = [0]


def finished_fetches() -> int:
    """How many fetches have finished so far in this process."""
    return _FINISHED[0]


def register_keys(keyfs: Any) -> None:
    """Declare this plugin's keyfs keys (idempotent: devpi-import never configures pyramid,
    so every use registers them too)."""
    if keyfs.get_key(TIMES_KEY) is None:
        keyfs.add_key(TIMES_KEY, "{user}/{index}/{project}/.policy_upload_times", dict)
    if keyfs.get_key(PROJECTS_KEY) is None:
        keyfs.add_key(PROJECTS_KEY, "{user}/{index}/.policy_upload_times_projects", set)


def stored(xom: Any, index: str, project: str) -> dict[str, Any]:
    """The stored record ``{"etag": ..., "files": Files}`` (inside a transaction)."""
    register_keys(xom.keyfs)
    user, name = index.split("/", 1)
    value = xom.keyfs.get_key(TIMES_KEY)(user=user, index=name, project=project).get()
    return dict(value) if value else {}


def forget_index(xom: Any, index: str) -> None:
    """Delete what is stored about ``index`` (inside the write transaction deleting it)."""
    register_keys(xom.keyfs)
    user, name = index.split("/", 1)
    projects_key = xom.keyfs.get_key(PROJECTS_KEY)(user=user, index=name)
    for project in projects_key.get():
        key = xom.keyfs.get_key(TIMES_KEY)(user=user, index=name, project=project)
        if key.exists():
            key.delete()
    if projects_key.exists():
        projects_key.delete()
    fetcher = existing_fetcher(xom)
    if fetcher is not None:
        fetcher.forget(index)


def parse_page(data: Any) -> Files:
    """The files of a PEP 691 project page (malformed entries are skipped)."""
    files: Files = {}
    for item in data.get("files", ()) if isinstance(data, dict) else ():
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        hashes = item.get("hashes")
        hashes = hashes if isinstance(hashes, dict) else {}
        uploaded = item.get("upload-time")
        size = item.get("size")
        files[item["filename"]] = [
            hashes.get("sha256"),
            uploaded if isinstance(uploaded, str) else None,
            size if isinstance(size, int) and not isinstance(size, bool) else None,
        ]
    return files


class TimesFetcher:
    """Fetches upstream pages in the thread that needs them: devpi's event thread after a
    project page changed (which then stores them), or a request that finds no time (which
    uses them at once). One fetch per project at a time; others join it. No thread of its
    own, and results are kept in memory too, so a request uses a fetch before its read
    transaction could see it stored."""

    def __init__(self, xom: Any) -> None:
        self.xom = xom
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Future[Files | None]] = {}
        #: (monotonic time, files or None when it failed, ETag) of the last fetch here
        self._fresh: dict[tuple[str, str], tuple[float, Files | None, str | None]] = {}

    def fresh(self, index: str, project: str) -> tuple[float, Files | None] | None:
        """(monotonic time, files or ``None`` when it failed) of the last fetch here."""
        found = self._fresh.get((index, project))
        return None if found is None else found[:2]

    def fetch(self, index: str, project: str, timeout: float) -> Files | None:
        """Fetch the page now, or join the fetch under way (waiting at most ``timeout``)."""
        key = (index, project)
        with self._lock:
            future = self._pending.get(key)
            mine = future is None
            if future is None:
                future = self._pending[key] = Future()
        if not mine:
            try:
                return future.result(timeout=timeout)
            except TimeoutError:
                log.warning("upload times of %s on %s: no answer in %.0fs", project, index, timeout)
                return None
        files, etag = None, None
        try:
            files, etag = self._fetch(index, project)
        except Exception:  # any error leaves the times unknown, never breaks the caller
            log.exception("could not fetch the upload times of %s on %s", project, index)
        finally:
            with self._lock:
                self._fresh[key] = (time.monotonic(), files, etag)
                self._pending.pop(key, None)
                _FINISHED[0] += 1
            future.set_result(files)
        return files

    def fetch_and_store(self, index: str, project: str, timeout: float) -> None:
        """Fetch (outside any transaction: devpi's event thread) and store what changed."""
        if self.fetch(index, project, timeout) is None:
            return
        found = self._fresh.get((index, project))
        if found is None or found[1] is None:
            return
        record = {"etag": found[2], "files": found[1]}
        keyfs = self.xom.keyfs
        user, name = index.split("/", 1)
        with keyfs.write_transaction():
            if self.xom.model.getstage(index) is None:
                return  # deleted meanwhile
            key = keyfs.get_key(TIMES_KEY)(user=user, index=name, project=project)
            if dict(key.get() or {}) == record:
                return
            key.set(record)
            projects_key = keyfs.get_key(PROJECTS_KEY)(user=user, index=name)
            projects = set(projects_key.get())
            if project not in projects:
                projects_key.set(projects | {project})

    def forget(self, index: str) -> None:
        with self._lock:
            for key in [k for k in self._fresh if k[0] == index]:
                del self._fresh[key]
            _FINISHED[0] += 1

    def _fetch(self, index: str, project: str) -> tuple[Files | None, str | None]:
        """The files of the upstream page (``None``: failed) and its ETag."""
        with self.xom.keyfs.read_transaction(allow_reuse=True):
            stage = self.xom.model.getstage(index)
            if stage is None or stage.ixconfig.get("type") != "mirror":
                return None, None
            url = stage.mirror_url_without_auth.joinpath(project).asdir().url
            old = stored(self.xom, index, project)
            http, timeout = stage.http, stage.timeout
        headers = {"Accept": JSON_TYPE}
        if old.get("etag") and old.get("files"):
            headers["If-None-Match"] = old["etag"]
        response = http.get(url, allow_redirects=True, timeout=timeout, extra_headers=headers)
        status = getattr(response, "status_code", None)
        if status == 304:  # noqa: PLR2004
            return dict(old["files"]), old["etag"]
        content_type = str(response.headers.get("content-type", "")).split(";")[0].strip()
        if status != 200 or content_type != JSON_TYPE:  # noqa: PLR2004
            log.warning("upload times of %s on %s: %s %s from %s",
                        project, index, status, content_type, url)  # fmt: skip
            return None, None
        return parse_page(response.json()), response.headers.get("ETag")


def fetcher(xom: Any) -> TimesFetcher:
    """This primary's fetcher."""
    return per_server(xom, "devpi-policy", "times-fetcher", lambda: TimesFetcher(xom))


def existing_fetcher(xom: Any) -> TimesFetcher | None:
    try:
        found: TimesFetcher = xom.get_singleton("+devpi-policy", "times-fetcher")
    except KeyError:
        return None
    return found
