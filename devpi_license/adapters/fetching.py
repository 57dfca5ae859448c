"""Concurrent reads of a closure's licenses (``+license``) and files (PEP 691) from an index.

All requests go through one :class:`JsonGetter` (on the client: devpi-client's HTTP session
with its login), from a small thread pool. Releases whose license the server has not
extracted yet (``pending``) are asked again until they settle or the time is up.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar
from urllib.parse import quote, urlencode

from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from devpi_license.core.report import Release

#: Below urllib3's default pool size (10), so every worker keeps its connection.
WORKERS: Final = 8
POLL_SECONDS: Final = 1.0
JSON: Final = "application/json"
SIMPLE_JSON: Final = "application/vnd.pypi.simple.v1+json"
T = TypeVar("T")
R = TypeVar("R")


class FetchError(Exception):
    """The server could not be reached or did not answer with JSON."""


class Clock:
    """Time as the pending retries see it (tests pass a fake)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class JsonGetter(Protocol):
    def get(self, url: str, accept: str) -> tuple[int, Any]:
        """GET ``url``; its status and JSON body (``None`` if none). Raises :class:`FetchError`."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The ``result`` of a ``+license`` reply, or why there is none."""

    result: dict[str, Any] | None = None
    error: str | None = None

    @property
    def pending(self) -> bool:
        return self.result is not None and self.result.get("state") == "pending"


def license_url(index_url: str, name: str, version: str) -> str:
    return f"{index_url.rstrip('/')}/{quote(name, safe='')}/{quote(version, safe='')}/+license"


def fetch_license(http: JsonGetter, index_url: str, name: str, version: str) -> Answer:
    """One release's ``+license`` result."""
    url = license_url(index_url, name, version)
    try:
        status, body = http.get(url, JSON)
    except FetchError as exc:
        return Answer(error=str(exc))
    if status == HTTPStatus.OK and isinstance(body, dict) and isinstance(body.get("result"), dict):
        return Answer(result=body["result"])
    message = body.get("message") if isinstance(body, dict) else None
    return Answer(error=f"{status} from {url}" + (f": {message}" if message else ""))


def _map(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(func, items))


def fetch_licenses(  # noqa: PLR0913 - what to fetch, then keyword-only knobs
    http: JsonGetter,
    index_url: str,
    releases: Sequence[Release],
    *,
    pending_seconds: float = 30.0,
    clock: Clock | None = None,
    on_answer: Callable[[int, int, int], None] | None = None,
) -> dict[str, Answer]:
    """Every release's answer by :attr:`Release.key`, pending ones retried for a while.

    ``on_answer(settled, total, pending)`` is called after each answer (from the fetching
    threads), for a progress display.
    """
    clock = clock or Clock()
    deadline = clock.now() + pending_seconds
    answers: dict[str, Answer] = {}
    todo = list(releases)
    lock = threading.Lock()

    def fetch(release: Release) -> Answer:
        answer = fetch_license(http, index_url, release.name, release.version)
        if on_answer is not None:
            with lock:
                answers[release.key] = answer
                pending = sum(a.pending for a in answers.values())
                on_answer(len(answers) - pending, len(releases), pending)
        return answer

    while todo:
        found = _map(fetch, todo)
        answers.update((r.key, a) for r, a in zip(todo, found, strict=True))
        todo = [r for r in todo if answers[r.key].pending]
        if todo and clock.now() + POLL_SECONDS > deadline:
            break
        if todo:
            clock.sleep(POLL_SECONDS)
    return answers


def fetch_project_files(
    http: JsonGetter, index_url: str, names: Iterable[str]
) -> dict[str, list[str]]:
    """File names of each project on the index (PEP 691 JSON simple page), by canonical name.

    A project the index does not serve maps to no files. Raises :class:`FetchError`.
    """
    keys = sorted({canonicalize_name(name) for name in names})

    def files(key: str) -> list[str]:
        status, body = http.get(f"{index_url.rstrip('/')}/+simple/{key}/", SIMPLE_JSON)
        if status != HTTPStatus.OK or not isinstance(body, dict):
            return []
        return [
            str(f["filename"])
            for f in body.get("files", ())
            if isinstance(f, dict) and "filename" in f
        ]

    return dict(zip(keys, _map(files, keys), strict=True))


def fetch_hidden(
    http: JsonGetter, index_url: str, wanted: Sequence[tuple[str, str | None]]
) -> list[list[str]]:
    """For each ``(project, newer_than)``, the versions of the project (newer than that
    version, when given) that the index's rules hide, as ``"2.0: <reason>"``, from
    devpi_policy's ``+policy/check``.

    Best effort: an index that cannot say (no devpi_policy, an error) hides nothing here.
    """

    def hidden(item: tuple[str, str | None]) -> list[str]:
        name, newer_than = item
        query = urlencode({"spec": name, **({"newer_than": newer_than} if newer_than else {})})
        try:
            status, body = http.get(f"{index_url.rstrip('/')}/+policy/check?{query}", JSON)
        except FetchError:
            return []
        if status != HTTPStatus.OK or not isinstance(body, dict):
            return []
        items = (body.get("result") or {}).get("hidden") or ()
        return [f"{i['version']}: {'; '.join(i['reasons'])}" for i in items if isinstance(i, dict)]

    return _map(hidden, list(wanted))
