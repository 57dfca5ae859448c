"""devpi-web's listings (when devpi-web is installed) show nothing the rules refuse.

* Index page (``/{user}/{index}``, HTML): devpi-web lists the index's own projects
  unfiltered and reads the latest version of each through devpi's version filter, so one
  project whose versions were all refused made the page fail (500). Its view is given this
  request's stage with only the projects that still have an allowed version: an attribute
  of that stage object, which devpi makes for each request.
* Project page: refused versions are dropped; the latest version shown, and its metadata,
  are those of the latest allowed one.
* Search (``/+search``): hits on refused projects and versions are dropped (names too), and
  documentation hits of refused versions; so are the hits of devpi-web's XML-RPC search
  (``POST`` of ``text/xml`` to an index, the old ``pip search``).

Nothing here imports devpi-web; its view results are plain dicts.
"""

from __future__ import annotations

import xmlrpc.client  # parses devpi-web's own answer only, never a request
from typing import TYPE_CHECKING, Any, Final
from xml.parsers.expat import ExpatError

from devpi_policy.adapters.serving import ServingView

if TYPE_CHECKING:
    from collections.abc import Callable

INDEX_PAGE: Final = "/{user}/{index}"
PROJECT_PAGE: Final = "/{user}/{index}/{project}"
SEARCH_PAGE: Final = "search"
_DOC_HITS: Final = ("title", "page")


def index_page_view(view: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """devpi-web's index page view, over the projects the rules leave visible."""

    def policy_index_page_view(context: Any, request: Any) -> Any:
        stage = context.stage  # devpi answers 404 for a missing index here, as the view would
        serving = ServingView.of(stage)
        if serving is not None and stage.ixconfig.get("type") != "mirror":
            visible = [
                project
                for project in stage.list_projects_perstage()
                if serving.project_allowed(project)
                and stage.get_latest_version_perstage(project) is not None
            ]
            stage.list_projects_perstage = lambda: visible  # this request's stage object only
        return view(context, request)

    return policy_index_page_view


def xmlrpc_search_view(view: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """devpi-web's XML-RPC search view, its hits judged by the queried index's rules."""

    def policy_xmlrpc_search_view(context: Any, request: Any) -> Any:
        response = view(context, request)
        serving = ServingView.of(context.stage)
        if serving is None:
            return response
        try:
            params, _ = xmlrpc.client.loads(response.body)
        except (xmlrpc.client.Fault, ExpatError, ValueError):
            return response  # devpi-web's own error answer
        hits: list[Any] = list(params[0]) if params and isinstance(params[0], list) else []
        kept = [
            hit
            for hit in hits
            if isinstance(hit, dict)
            and serving.project_allowed(str(hit.get("name") or ""))
            and serving.version_allowed(str(hit.get("name") or ""), str(hit.get("version") or ""))
        ]
        if len(kept) != len(hits):
            answer = xmlrpc.client.dumps((kept,), methodresponse=True, encoding="utf-8")
            response.body = answer.encode()
        return response

    return policy_xmlrpc_search_view


def filter_project_page(request: Any, value: dict[str, Any]) -> None:
    """Drop refused versions from devpi-web's project page; show the latest allowed one."""
    stage = request.context.stage
    serving = ServingView.of(stage)
    if serving is None:
        return
    project = request.context.verified_project
    value["versions"] = [
        info
        for info in value.get("versions") or ()
        if serving.version_allowed(project, str(info.get("title")))
    ]
    latest = value.get("latest_version")
    if latest is not None and not serving.version_allowed(project, str(latest)):
        allowed = stage.get_latest_version_perstage(project)
        value["latest_version"] = allowed
        value["latest_version_data"] = (
            stage.get_versiondata_perstage(project, allowed) if allowed else {}
        )


def filter_search(request: Any, value: dict[str, Any]) -> None:
    """Drop devpi-web search hits on refused projects, versions and their documentation."""
    result = value.get("result")
    if not isinstance(result, dict) or not result.get("items"):
        return
    xom = request.registry["xom"]
    views: dict[str, ServingView | None] = {}
    kept = []
    for item in result["items"]:
        data = item.get("data") or {}
        index = f"{data.get('user')}/{data.get('index')}"
        if index not in views:
            stage = xom.model.getstage(index)
            views[index] = None if stage is None else ServingView.of(stage)
        serving = views[index]
        if serving is None or _hit_allowed(serving, item, data):
            kept.append(item)
    result["items"] = kept
    if not kept:
        value["result"] = None


def _hit_allowed(serving: ServingView, item: dict[str, Any], data: dict[str, Any]) -> bool:
    name = str(data.get("name") or "")
    version = data.get("version")
    if not serving.project_allowed(name):
        return False
    if version is not None:
        if not serving.version_allowed(name, str(version)):
            return False
    elif serving.stage.ixconfig.get("type") != "mirror" and not serving.stage.list_versions(name):
        return False  # a project none of whose versions is allowed: its name is not shown
    doc_version = data.get("doc_version")
    if doc_version and not serving.version_allowed(name, str(doc_version)):
        item["sub_hits"] = [
            hit
            for hit in item.get("sub_hits") or ()
            if (hit.get("data") or {}).get("type") not in _DOC_HITS
        ]
    return True
