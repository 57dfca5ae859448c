"""PEP 691 JSON pages as api-version 1.1: ``versions``, and ``size``/``upload-time`` per file.

devpi-server 6.20 answers PEP 691 JSON with api-version 1.0 and no PEP 700 fields; pip
(``--uploaded-prior-to``) and uv (``--exclude-newer``) need ``upload-time`` on every
candidate. A view deriver around devpi's simple views (``+simple/`` and the pages devpi
gives installers at ``/user/idx/`` and ``/user/idx/project/``) completes devpi's answer
with the true upload times (adapters/upload_times.py) after the rules have filtered it
(core/pep691.py splices them into devpi's page). A file whose time is unknown carries no
``upload-time`` (never a made-up one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin

from devpi_policy.adapters import upload_times
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.core.links import stored_in
from devpi_policy.core.pep691 import complete_page
from devpi_policy.core.rules import normalize

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_policy.core.pep691 import Fields

JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
PROJECT_ROUTES: Final = frozenset(
    {
        "/{user}/{index}/+simple/{project}",
        "/{user}/{index}/+simple/{project}/",
        "installer_simple_project",
    }
)
LIST_ROUTES: Final = frozenset(
    {"/{user}/{index}/+simple", "/{user}/{index}/+simple/", "installer_simple"}
)
_OLD_META: Final = b'{"meta":{"api-version":"1.0"}'
_NEW_META: Final = b'{"meta":{"api-version":"1.1"}'


def simple_json_deriver(view: Any, info: Any) -> Any:
    """Wrap devpi's simple views; every other view is returned unchanged."""
    route = info.options.get("route_name")
    if route in PROJECT_ROUTES:
        return _wrap(view, _complete_project_page)
    if route in LIST_ROUTES:
        return _wrap(view, _complete_list_page)
    return view


def _wrap(view: Any, complete: Callable[[Any, Any], None]) -> Callable[[Any, Any], Any]:
    def policy_simple_json_view(context: Any, request: Any) -> Any:
        response = view(context, request)
        if getattr(response, "status_code", 500) == 200 and response.content_type == JSON_TYPE:  # noqa: PLR2004
            complete(request, response)
        return response

    return policy_simple_json_view


def _complete_list_page(request: Any, response: Any) -> None:  # noqa: ARG001
    body = response.body
    if body.startswith(_OLD_META):
        response.body = _NEW_META + body[len(_OLD_META) :]


@dataclass(frozen=True, slots=True)
class _Page:
    """devpi's page and its completion, and how long that holds (upload_times.Validity)."""

    body: bytes
    completed: bytes
    validity: upload_times.Validity


class _PageMemo(SerialMemo[tuple[str, int], _Page]):
    """Completed pages of one keyfs serial, by path and length of devpi's page: pages are
    served again and again, and their files' times change only with a new serial, or when
    an upstream fetch ends or is due (the page's validity). A page is reused only for the
    same bytes of devpi's page."""


_PAGES_MAX: Final = 512
_PAGES_BYTES: Final = 64 * 1024 * 1024


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _pages_of(xom: Any) -> _PageMemo:  # noqa: ARG001 - xom is the cache key
    return _PageMemo()


def _complete_project_page(request: Any, response: Any) -> None:
    xom = request.registry["xom"]
    body = response.body
    memo = _pages_of(xom)
    table = memo.table(xom)
    key = (str(request.path), len(body))
    done = _reusable(table, key, body)
    if done is None and table is not None:
        with memo.lock(key):  # concurrent misses of the page: computed once
            done = _reusable(table, key, body)
            if done is None:
                done = _completed(request, body)
                if key in table or _room(table, len(body) + len(done.completed)):
                    table[key] = done
    response.body = (done or _completed(request, body)).completed


def _reusable(
    table: dict[tuple[str, int], _Page] | None, key: tuple[str, int], body: bytes
) -> _Page | None:
    done = None if table is None else table.get(key)
    if done is not None and done.body == body and done.validity.holds():
        return done
    return None


def _completed(request: Any, body: bytes) -> _Page:
    with upload_times.tracking() as validity:
        completed = complete_page(body, _fields_of(request))
    return _Page(body, completed, validity)


def _room(table: dict[tuple[str, int], _Page], size: int) -> bool:
    """Whether one more page of ``size`` bytes fits (asked only when a page is new)."""
    if len(table) >= _PAGES_MAX:
        return False
    return sum(len(p.body) + len(p.completed) for p in table.values()) + size <= _PAGES_BYTES


def _fields_of(request: Any) -> Fields:
    """The size and upload time of a file of the page, by its name and URL."""
    xom = request.registry["xom"]
    project = normalize(str(request.matchdict.get("project", "")).strip("/"))
    stages: dict[str, Any] = {}

    def fields(filename: str, url: str) -> tuple[int | None, str | None]:
        holder = stored_in(url) or stored_in(urljoin(request.path, url))
        if holder is None:
            return None, None
        stage = stages.get(holder)
        if stage is None:
            stage = stages[holder] = upload_times.stage_by_name(xom, holder)
            if stage is None:
                return None, None
        found = upload_times.file_time(stage, project, filename)
        return found.size, found.upload_time

    return fields
