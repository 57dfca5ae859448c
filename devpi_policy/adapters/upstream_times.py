"""Upload times of a mirror's files, fetched from its upstream's PEP 691 JSON page.

devpi-server 6.20 drops PEP 700's ``upload-time`` when it reads a mirror's page. When
devpi (re)fetches a project page (a ``PROJSIMPLELINKS`` change), this module fetches the
same page as PEP 691 JSON (same ``mirror_url``, credentials and timeout; its own ETag) on
a worker thread and stores each file's sha256, upload time and size in a keyfs key of the
mirror index, so replicas receive them with devpi's replication. Only upload/devpi upstream
data is stored: a file whose upstream gives no time has none (never the local clock).

Only :mod:`devpi_policy.adapters.upload_times` uses this module: with devpi-server 7, whose
mirrors keep ``upload-time``, that module can read devpi's field instead.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from devpi_foundry_common.singletons import per_server

log = logging.getLogger(__name__)
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
TIMES_KEY: Final = "POLICYUPLOADTIMES"
PROJECTS_KEY: Final = "POLICYUPLOADTIMESPROJECTS"
#: seconds before a failed fetch is tried again
RETRY_FAILED: Final = 30.0
#: pending fetches beyond this are dropped (logged); a later serving asks again
MAX_PENDING: Final = 1000
#: (sha256, upload time as RFC 3339 or None, size or None) per file name
Files = dict[str, list[Any]]


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
    """Fetches upstream pages on two worker threads; results are kept in memory too, so a
    request waiting for a fetch uses it before its own read transaction could see it."""

    def __init__(self, xom: Any) -> None:
        self.xom = xom
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Future[Files | None]] = {}
        self._fresh: dict[tuple[str, str], tuple[float, Files | None]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="policy-times")

    def fresh(self, index: str, project: str) -> tuple[float, Files | None] | None:
        """(monotonic time, files or ``None`` when it failed) of the last fetch here."""
        return self._fresh.get((index, project))

    def request(self, index: str, project: str) -> Future[Files | None] | None:
        """Start a fetch unless one is under way; ``None`` when too many are pending."""
        key = (index, project)
        with self._lock:
            found = self._pending.get(key)
            if found is not None:
                return found
            if len(self._pending) >= MAX_PENDING:
                log.warning("upload-time fetch of %s on %s dropped: queue full", project, index)
                return None
            future: Future[Files | None] = Future()
            self._pending[key] = future
        self._pool.submit(self._run, index, project)
        return future

    def wait(self, index: str, project: str, timeout: float) -> Files | None:
        """Fetch (or join the fetch under way) and wait at most ``timeout`` seconds."""
        future = self.request(index, project)
        if future is None:
            return None
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            log.warning("upload times of %s on %s: no answer in %.0fs", project, index, timeout)
            return None

    def forget(self, index: str) -> None:
        with self._lock:
            for key in [k for k in self._fresh if k[0] == index]:
                del self._fresh[key]

    def _run(self, index: str, project: str) -> Files | None:
        """Fetch, publish the result (waiting requests go on), then store it in keyfs: a
        waiting request may hold keyfs's write lock (devpi stores a page it just fetched)."""
        files: Files | None = None
        record = None
        try:
            files, record = self._fetch(index, project)
        except Exception:  # a worker must survive any error; the time stays unknown
            log.exception("could not fetch the upload times of %s on %s", project, index)
        with self._lock:
            self._fresh[(index, project)] = (time.monotonic(), files)
            future = self._pending.pop((index, project), None)
        if future is not None:
            future.set_result(files)
        if record is not None:
            try:
                self._store(index, project, record)
            except Exception:  # the times stay in memory; the next fetch stores them
                log.exception("could not store the upload times of %s on %s", project, index)
        return files

    def _fetch(self, index: str, project: str) -> tuple[Files | None, dict[str, Any] | None]:
        """The files of the upstream page, and the record to store (``None``: unchanged)."""
        keyfs = self.xom.keyfs
        with keyfs.read_transaction():
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
            return dict(old["files"]), None
        content_type = str(response.headers.get("content-type", "")).split(";")[0].strip()
        if status != 200 or content_type != JSON_TYPE:  # noqa: PLR2004
            log.warning("upload times of %s on %s: %s %s from %s",
                        project, index, status, content_type, url)  # fmt: skip
            return None, None
        files = parse_page(response.json())
        record = {"etag": response.headers.get("ETag"), "files": files}
        return files, (record if record != old else None)

    def _store(self, index: str, project: str, record: dict[str, Any]) -> None:
        keyfs = self.xom.keyfs
        user, name = index.split("/", 1)
        with keyfs.write_transaction():
            if self.xom.model.getstage(index) is None:
                return  # deleted meanwhile
            keyfs.get_key(TIMES_KEY)(user=user, index=name, project=project).set(record)
            projects_key = keyfs.get_key(PROJECTS_KEY)(user=user, index=name)
            projects = set(projects_key.get())
            if project not in projects:
                projects_key.set(projects | {project})

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def fetcher(xom: Any) -> TimesFetcher:
    """This primary's fetcher (its threads start with the first fetch)."""
    return per_server(xom, "devpi-policy", "times-fetcher", lambda: TimesFetcher(xom))


def existing_fetcher(xom: Any) -> TimesFetcher | None:
    try:
        found: TimesFetcher = xom.get_singleton("+devpi-policy", "times-fetcher")
    except KeyError:
        return None
    return found
