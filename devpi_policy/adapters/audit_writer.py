"""The audit's bounded in-memory queue and the thread that writes it to the store.

The request path only appends events to a deque under a lock (never waits on the
database); when the queue is full the events are dropped and counted in
``devpi_policy_audit_dropped_total``. A thread of devpi's thread pool writes what is
queued every 5 seconds (sooner when the queue is half full or the audit is read),
applies index and user deletions and prunes rows older than the retention hourly. A
failed write is logged as one line naming its cause, counted in
``devpi_policy_audit_write_errors_total``, and its events are queued again (as room
allows). At shutdown the thread writes what is left. The thread starts with the first
refusal, deletion or read of the audit: a server that refuses nothing runs none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final, Literal

from devpi_policy.core.audit import aggregate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from devpi_foundry_common.metrics import Metrics
    from devpi_policy.core.audit import AuditEvent, AuditStore

log = logging.getLogger(__name__)
PRUNE_EVERY: Final = 3600.0
#: seconds between writes: the refusals of one key in that time cost one row update
WRITE_EVERY: Final = 5.0
SHUTDOWN_WAIT: Final = 10.0
Deletion = tuple[Literal["index", "user"], str]


def _cause(exc: BaseException) -> str:
    """One line: the exception's type and message, and its cause's."""
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    inner = exc.__cause__ or exc.__context__
    return text if inner is None else f"{text} (caused by {_cause(inner)})"


class AuditWriter:
    """Queue of audit events for one server, written by its ``thread_run``."""

    def __init__(  # noqa: PLR0913 - keyword-only settings, all with their role
        self,
        open_store: Callable[[bool], AuditStore | None],  # create=False: None if absent
        metrics: Metrics,
        *,
        capacity: int,
        retention: float,
        interval: float = WRITE_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open_store = open_store
        self._store: AuditStore | None = None
        self.metrics = metrics
        self.capacity = capacity
        self.retention = retention
        self.interval = interval
        self.clock = clock
        self._events: deque[AuditEvent] = deque()
        self._deletions: deque[Deletion] = deque()
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._cycles = [0, 0]  # flushes started, finished
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_prune = 0.0
        #: starts the writing thread; called on the first event, so a server that never
        #: refuses anything runs no thread of the audit's (set by the adapter)
        self.start_thread: Callable[[], None] | None = None
        self._started = False

    # --- request path -----------------------------------------------------------------
    def ensure_thread(self) -> None:
        """Start the writing thread, once."""
        if self._started or self.start_thread is None:
            return
        with self._open_lock:
            if not self._started:
                self._started = True
                self.start_thread()

    def record(self, events: Sequence[AuditEvent]) -> None:
        """Queue ``events``; what does not fit is dropped and counted. Never blocks on I/O."""
        self.ensure_thread()
        with self._lock:
            room = self.capacity - len(self._events)
            self._events.extend(events[: max(room, 0)])
            queued = len(self._events)
        dropped = len(events) - max(min(room, len(events)), 0)
        self.metrics.inc("audit_recorded_total", len(events) - dropped)
        if dropped:
            self.metrics.inc("audit_dropped_total", dropped)
        if queued * 2 >= self.capacity:
            self._wake.set()

    def forget(self, kind: Literal["index", "user"], name: str) -> None:
        """Delete the rows of an index or of every index of a user (off the request path)."""
        self.ensure_thread()
        with self._lock:
            self._deletions.append((kind, name))
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait (up to ``timeout``) until what is queued now is written; whether it was."""
        self.ensure_thread()
        with self._lock:
            target = self._cycles[0] + 1
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._cycles[1] >= target, timeout)

    # --- the thread -------------------------------------------------------------------
    def thread_run(self) -> None:
        """devpi's thread pool runs this until shutdown."""
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.write_queued()
            if not self._stop.is_set() and self.clock() >= self._next_prune:
                self.prune()
        self.write_queued()

    def thread_shutdown(self) -> None:
        """Called by devpi at shutdown: stop after writing what is queued."""
        self._stop.set()
        self._wake.set()
        thread = getattr(self, "thread", None)
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(SHUTDOWN_WAIT)

    def _store_or_none(self, *, create: bool) -> AuditStore | None:
        with self._open_lock:
            if self._store is None:
                self._store = self._open_store(create)
            return self._store

    def reading_store(self) -> AuditStore | None:
        """The store for reads; ``None`` while nothing was ever written."""
        return self._store_or_none(create=False)

    def write_queued(self) -> None:
        """Write the queued events and deletions (one transaction each)."""
        with self._lock:
            self._cycles[0] += 1
            batch = list(self._events)
            self._events.clear()
            deletions = list(self._deletions)
            self._deletions.clear()
        try:
            if batch or deletions:
                self._write(batch, deletions)
        finally:
            with self._done:
                self._cycles[1] += 1
                self._done.notify_all()

    def _write(self, batch: list[AuditEvent], deletions: list[Deletion]) -> None:
        written = False
        try:
            store = self._store_or_none(create=bool(batch))
            if batch and store is not None:
                store.add_rows(aggregate(batch))
            written = True
            while store is not None and deletions:
                kind, name = deletions[0]
                gone = store.delete_index(name) if kind == "index" else store.delete_user(name)
                log.info("policy audit: deleted %d rows of %s %s", gone, kind, name)
                deletions.pop(0)
        # a write must never stop the thread (devpi would stop the server): one line with
        # the cause, counted, and the events kept for the next try
        except Exception as exc:  # noqa: BLE001
            self.metrics.inc("audit_write_errors_total")
            log.error("policy audit: could not write %d refusals: %s", len(batch), _cause(exc))  # noqa: TRY400 - one line, no traceback per failure
            self._requeue([] if written else batch, deletions)

    def _requeue(self, batch: list[AuditEvent], deletions: list[Deletion]) -> None:
        with self._lock:
            self._deletions.extendleft(reversed(deletions))
            room = max(self.capacity - len(self._events), 0)
            kept = batch[len(batch) - min(room, len(batch)) :]  # the newest that fit
            self._events.extendleft(reversed(kept))
        if len(kept) < len(batch):
            self.metrics.inc("audit_dropped_total", len(batch) - len(kept))

    def prune(self) -> None:
        """Delete rows older than the retention (when the store exists)."""
        now = self.clock()
        self._next_prune = now + PRUNE_EVERY
        try:
            store = self._store_or_none(create=False)
            if store is None:
                return
            gone = store.prune(now - self.retention)
        except Exception as exc:  # noqa: BLE001 - as in _write: one line, counted, next hour
            self.metrics.inc("audit_write_errors_total")
            log.error("policy audit: could not prune: %s", _cause(exc))  # noqa: TRY400
            return
        if gone:
            self.metrics.inc("audit_pruned_total", gone)
            log.info("policy audit: pruned %d rows older than %.0f days", gone,
                     self.retention / 86400)  # fmt: skip
