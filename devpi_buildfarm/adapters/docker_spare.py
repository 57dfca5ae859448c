"""A spare build container, made ahead so that a session does not wait for the daemon.

Creating and starting a container (with its two tmpfs volumes) takes the daemon 0.3 to
0.6 s, paid by every session (the build, then the smoke test) on the upload's path to its
wheel. A backend therefore keeps at most one *spare*: a container of the same shape as a
session's (image, user, limits, toolbox volume), created and started but never used, made
in the background when the backend starts and again each time a session takes the spare.
A session takes it only when the shapes match and its input fits the spare's input
volume; otherwise, or when none is ready, it makes its own as before. A spare is used by
exactly one session (then removed like every session's container), is renamed for the job
when taken, is removed after ``seconds`` without use and when the server exits; one that
a killed server left carries the farm's label and goes with the leftovers at the next
start. ``spare_seconds = 0`` in the builder turns it off.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)
DEFAULT_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class Made:
    """A started container and the volumes made for it (removed after the container)."""

    container: Any
    volumes: tuple[Any, ...]
    inbox_bytes: int
    made_at: float = field(default_factory=time.monotonic)

    @property
    def things(self) -> list[Any]:
        return [self.container, *self.volumes]


class Spares:
    """At most one spare per container shape, for one backend."""

    def __init__(self, seconds: float, remove: Callable[[list[Any]], None]) -> None:
        self.seconds, self.remove = seconds, remove
        self._spares: dict[Hashable, Future[Made]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devpi-buildfarm-spare")
        _LIVE.append(self)

    def make_ahead(self, shape: Hashable, make: Callable[[], Made]) -> None:
        """Start making a spare of ``shape`` unless one is ready or on its way."""
        if self.seconds <= 0:
            return
        with self._lock:
            if shape in self._spares:
                return
            future = self._pool.submit(make)
            self._spares[shape] = future
        timer = threading.Timer(self.seconds, self._expire, (shape, future))
        timer.daemon = True
        timer.start()

    def take(self, shape: Hashable, inbox_bytes: int, make: Callable[[], Made]) -> Made | None:
        """The spare of ``shape`` when it is ready (or on its way) and its input volume
        holds ``inbox_bytes``; ``None`` otherwise. A new spare is made ahead either way."""
        with self._lock:
            future = self._spares.pop(shape, None)
        self.make_ahead(shape, make)
        if future is None:
            return None
        made = _result(future)
        if made is None:
            return None
        if made.inbox_bytes < inbox_bytes or not _running(made.container):
            self.remove(made.things)
            return None
        return made

    def _expire(self, shape: Hashable, future: Future[Made]) -> None:
        with self._lock:
            if self._spares.get(shape) is not future:
                return  # taken in the meantime
            del self._spares[shape]
        made = _result(future)
        if made is not None:
            self.remove(made.things)

    def close(self) -> None:
        """Remove every spare now (the server exits)."""
        with self._lock:
            futures = list(self._spares.values())
            self._spares.clear()
        for future in futures:
            made = _result(future)
            if made is not None:
                self.remove(made.things)


def _result(future: Future[Made]) -> Made | None:
    try:
        return future.result(timeout=120)
    except Exception as exc:  # noqa: BLE001 - the daemon's failure: the session makes its own
        log.warning("devpi-buildfarm: a spare container could not be made: %s", exc)
        return None


def _running(container: Any) -> bool:
    try:
        container.reload()
    except Exception:  # noqa: BLE001 - gone (removed behind our back): not usable
        return False
    return bool(container.status == "running")


_LIVE: list[Spares] = []


@atexit.register
def _close_all() -> None:
    for spares in _LIVE:
        with contextlib.suppress(Exception):
            spares.close()
