"""PEP 691 JSON pages as api-version 1.1: ``versions``, and ``size``/``upload-time`` per file.

devpi-server 6.20 answers PEP 691 JSON with api-version 1.0 and no PEP 700 fields; pip
(``--uploaded-prior-to``) and uv (``--exclude-newer``) need ``upload-time`` on every
candidate. A view deriver around devpi's simple views (``+simple/`` and the pages devpi
gives installers at ``/user/idx/`` and ``/user/idx/project/``) completes devpi's answer
with the true upload times (adapters/upload_times.py) after the rules have filtered it.
A file whose time is unknown carries no ``upload-time`` (never a made-up one).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

from devpi_policy.adapters import upload_times
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


def _complete_project_page(request: Any, response: Any) -> None:
    data = json.loads(response.body)
    xom = request.registry["xom"]
    project = str(data.get("name") or request.matchdict.get("project", "")).strip("/")
    stages: dict[str, Any] = {}
    versions = set()
    for item in data.get("files", ()):
        filename = item["filename"]
        version = split_filename(filename)[1]
        if version:
            versions.add(version)
        holder = stored_in(urljoin(request.path, item["url"]))
        if holder is None:
            continue
        if holder not in stages:
            stages[holder] = upload_times.stage_by_name(xom, holder)
        if stages[holder] is None:
            continue
        found = upload_times.file_time(stages[holder], project, filename)
        if found.size is not None:
            item["size"] = found.size
        if found.upload_time is not None:
            item["upload-time"] = found.upload_time
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    data["meta"] = {**meta, "api-version": "1.1"}
    data["versions"] = sorted(versions, key=_version_key)
    response.body = json.dumps(data, separators=(",", ":")).encode()


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)
