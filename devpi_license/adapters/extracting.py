"""Background license extraction: one pass per (index, project), on the plugin's threads.

A pass reads the project's files as devpi lists them (a mirror's cached project page, a
private index's release links), picks one file per version whose license is not known yet
(:mod:`sources`), reads them on a small pool of threads and stores each result as soon as
it is known. Passes are queued when a mirror's project page changes and when a request
meets a release whose license is not known (``pending``); such a request may wait a
bounded time for its release (:meth:`Extractor.wait_for`). Nothing here runs inside a
request's transaction, and a failing file never stops a pass: it stays pending and is
tried again by the next pass.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx

from devpi_foundry_common.failures import log_failure
from devpi_license.adapters.sources import Candidate, choose, fetch_upstream, read_stored
from devpi_license.core.extract import Evidence
from devpi_license.core.release import ReleaseLicense, combine, from_versiondata

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_foundry_common.metrics import Metrics
    from devpi_license.adapters.store import LicenseStore

log = logging.getLogger(__name__)
PROJECT_THREADS: Final = 2
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a pass reads (``candidates``) and what it records at once (``unreadable``)."""

    candidates: list[Candidate]
    unreadable: dict[str, str]


def _no_file(why: str) -> ReleaseLicense:
    return ReleaseLicense(None, None, 0.0, (Evidence("file", "", None, 0.0, why),))


class Extractor:
    """The extraction queue and threads of one devpi-server (started on first use)."""

    def __init__(self, xom: Any, store: LicenseStore, metrics: Metrics, *,
                 workers: int, max_bytes: int) -> None:  # fmt: skip
        self.xom = xom
        self.store = store
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.workers = workers
        self._queue: queue.Queue[tuple[Key, Plan | None]] = queue.Queue()
        self._waiting: set[Key] = set()  # queued, not started
        self._outstanding: dict[Key, int] = {}  # passes queued or running
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None

    def _start(self) -> None:
        """Threads and the HTTP client, made on first use (call with ``_lock`` held)."""
        if self._pool is not None:
            return
        self._client = httpx.Client(follow_redirects=True, headers={"User-Agent": "devpi-license"})
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="devpi-license-read")
        for n in range(PROJECT_THREADS):
            name = f"devpi-license-{n}"
            threading.Thread(target=self._run, name=name, daemon=True).start()

    def request(self, index: str, project: str, plan: Plan | None = None) -> None:
        """Queue a pass over ``project`` of ``index``; a pass already queued and not
        started covers it, a running one may have read the project before a change.

        ``plan``: what to read, made by the caller in its own transaction (a request
        sees the project page devpi fetched for it before it is committed)."""
        key = (index, project)
        with self._lock:
            self._start()
            if key in self._waiting and plan is None:
                return
            self._waiting.add(key)
            self._outstanding[key] = self._outstanding.get(key, 0) + 1
            self.metrics.set("extract_queue", len(self._outstanding))
        self._queue.put((key, plan))

    def wait_for(self, index: str, project: str, found: Callable[[], ReleaseLicense | None],
                 deadline: float) -> ReleaseLicense | None:  # fmt: skip
        """Queue a pass (its plan made here, in the caller's transaction) and wait until
        ``found()`` knows the release, the passes over the project are done, or
        ``deadline``."""
        self.request(index, project, self.plan(index, project))
        with self._changed:
            while True:
                result = found()
                now = time.monotonic()
                if result is not None or now >= deadline:
                    return result
                with self._lock:
                    if (index, project) not in self._outstanding:
                        return found()
                self._changed.wait(min(deadline - now, 1.0))

    def _run(self) -> None:
        while True:
            key, plan = self._queue.get()
            with self._lock:
                self._waiting.discard(key)
            try:
                self._pass(*key, plan)
            except Exception as exc:  # noqa: BLE001 - a thread that dies would stop all extraction
                log_failure(log, exc, f"license extraction of {key[1]} on {key[0]} failed",
                            self.metrics, "extraction_errors_total")  # fmt: skip
            finally:
                with self._lock:
                    left = self._outstanding.pop(key, 1) - 1
                    if left > 0:
                        self._outstanding[key] = left
                    self.metrics.set("extract_queue", len(self._outstanding))
                self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _pass(self, index: str, project: str, plan: Plan | None) -> None:
        if plan is None:
            with self.xom.keyfs.read_transaction():
                plan = self.plan(index, project)
        if plan is None:
            return
        for version, why in plan.unreadable.items():
            self.store.put(index, project, version, _no_file(why))
        assert self._pool is not None  # noqa: S101 - started before anything is queued
        done = self._pool.map(lambda item: self._read(index, project, item), plan.candidates)
        for _ in done:
            self._notify()

    def plan(self, index: str, project: str) -> Plan | None:
        """What a pass reads (call in a transaction)."""
        stage = self.xom.model.getstage(index)
        if stage is None:
            return None
        skip = self.store.known_versions(index, project)
        unreadable: dict[str, str] = {}
        if stage.ixconfig.get("type") == "mirror":
            data = stage.key_projsimplelinks(project).get() or {}
            files = [(name, href.split("#", 1)[0]) for name, href in data.get("links") or ()]
        else:
            links = stage.get_releaselinks_perstage(project)
            files = [(link.basename, link.relpath) for link in links]
            for version in stage.list_versions_perstage(project) or ():
                data = stage.get_versiondata_perstage(project, version) or {}
                if from_versiondata(data) is not None:
                    skip.add(version)
                elif not any(link.version == version for link in links):
                    unreadable[version] = "the release has no files"
        filestore = self.xom.filestore
        located = []
        for name, relpath in files:
            entry = filestore.get_file_entry(relpath)
            located.append((name, relpath, getattr(entry, "url", None) or None))
        return Plan(choose(located, skip | set(unreadable)), unreadable)

    def _read(self, index: str, project: str, candidate: Candidate) -> None:
        try:
            with self.xom.keyfs.read_transaction():
                entry = self.xom.filestore.get_file_entry(candidate.relpath)
                info = read_stored(entry, candidate, self.max_bytes)
            offline = getattr(self.xom.config.args, "offline_mode", False)
            if info is None and candidate.url and not offline:
                assert self._client is not None  # noqa: S101 - made with the pool
                info = fetch_upstream(self._client, candidate, self.max_bytes)
        except Exception as exc:  # noqa: BLE001 - network trouble, a vanished file: pending, tried again later
            log_failure(log, exc, f"could not read the license of {candidate.filename} on {index}",
                        self.metrics, "extraction_errors_total")  # fmt: skip
            return
        if info is None:
            return
        self.store.put(index, project, candidate.version, combine({candidate.filename: info}))
        self.metrics.inc("extractions_total")
