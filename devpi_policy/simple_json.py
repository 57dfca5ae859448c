"""PEP 691 JSON pages as api-version 1.1: ``versions``, and ``size``/``upload-time`` per file.

devpi-server 6.20 answers PEP 691 JSON with api-version 1.0 and no PEP 700 fields; pip
(``--uploaded-prior-to``) and uv (``--exclude-newer``) need ``upload-time`` on every
candidate. A view deriver around devpi's simple views (``+simple/`` and the pages devpi
gives installers at ``/user/idx/`` and ``/user/idx/project/``) completes devpi's answer
with the true upload times (adapters/upload_times.py) after the rules have filtered it.
A file whose time is unknown carries no ``upload-time`` (never a made-up one).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

from devpi_policy.adapters import upload_times
from devpi_policy.adapters.serial_memo import SerialMemo
from devpi_policy.adapters.serving import stored_in
from devpi_policy.core.evaluate import split_filename

if TYPE_CHECKING:
    from collections.abc import Callable

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


class _PageMemo(SerialMemo[tuple[str, bytes], bytes]):
    """Completed pages of one keyfs serial, by devpi's page (path and body hash): the times
    of a serial's files do not change, so a page every file of which had its time is
    completed once per serial. Pages where a time was missing are not kept."""


_PAGES_MAX: Final = 512


@lru_cache(maxsize=8)  # one xom per process (tests: a few)
def _pages_of(xom: Any) -> _PageMemo:  # noqa: ARG001 - xom is the cache key
    return _PageMemo()


def _complete_project_page(request: Any, response: Any) -> None:
    xom = request.registry["xom"]
    body = response.body
    table = _pages_of(xom).table(xom)
    key = (str(request.path), hashlib.sha1(body, usedforsecurity=False).digest())
    done = None if table is None else table.get(key)
    if done is not None:
        response.body = done
        return
    completed, complete = _completed(request, body)
    response.body = completed
    if complete and table is not None and len(table) < _PAGES_MAX:
        table[key] = completed


def _completed(request: Any, body: bytes) -> tuple[bytes, bool]:
    """The page with PEP 700's fields, and whether every file had its upload time."""
    data = json.loads(body)
    xom = request.registry["xom"]
    complete = True
    project = str(data.get("name") or request.matchdict.get("project", "")).strip("/")
    stages: dict[str, Any] = {}
    versions = set()
    for item in data.get("files", ()):
        filename = item["filename"]
        version = split_filename(filename)[1]
        if version:
            versions.add(version)
        holder = stored_in(urljoin(request.path, item["url"]))
        if holder is not None and holder not in stages:
            stages[holder] = upload_times.stage_by_name(xom, holder)
        if holder is None or stages[holder] is None:
            complete = False
            continue
        found = upload_times.file_time(stages[holder], project, filename)
        if found.size is not None:
            item["size"] = found.size
        if found.upload_time is not None:
            item["upload-time"] = found.upload_time
        else:
            complete = False
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    data["meta"] = {**meta, "api-version": "1.1"}
    data["versions"] = sorted(versions, key=_version_key)
    return json.dumps(data, separators=(",", ":")).encode(), complete


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)
