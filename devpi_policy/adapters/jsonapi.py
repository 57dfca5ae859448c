"""Filter devpi's JSON API results by file, which devpi's own filters do not do.

devpi's customizer filters remove whole versions from ``GET /user/idx/project`` and
``.../project/version``, but the ``+links`` of a version that stays are not filtered per
file, and ``GET /user/idx`` lists the index's own projects unfiltered. The views module
runs these functions on those responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devpi_policy.core.links import link_basename, stored_in

if TYPE_CHECKING:
    from devpi_policy.adapters.serving import ServingView

PROJECT_ROUTE = "/{user}/{index}/{project}"
VERSION_ROUTE = "/{user}/{index}/{project}/{version}"
INDEX_ROUTES = frozenset({"/{user}/{index}", "/{user}/{index}/"})
ROUTES = frozenset({PROJECT_ROUTE, VERSION_ROUTE, *INDEX_ROUTES})


def _filter_verdata(view: ServingView, project: str, verdata: Any) -> int:
    if not isinstance(verdata, dict):
        return 0
    hidden = 0
    links = verdata.get("+links")
    if isinstance(links, list):
        kept = []
        for link in links:
            href = link.get("for_href") or link.get("href", "") if isinstance(link, dict) else ""
            if view.file_allowed(project, link_basename(href), stored_in(href)):
                kept.append(link)
        hidden += len(links) - len(kept)
        verdata["+links"] = kept
    for shadowed in verdata.get("+shadowing") or ():
        hidden += _filter_verdata(view, project, shadowed)
    return hidden


def filter_result(view: ServingView, route: str, matchdict: Any, data: Any) -> int:
    """Drop refused entries from a decoded JSON API reply in place; returns how many."""
    result = data.get("result") if isinstance(data, dict) else None
    if route == VERSION_ROUTE:
        return _filter_verdata(view, matchdict["project"], result)
    if route == PROJECT_ROUTE and isinstance(result, dict):
        return sum(_filter_verdata(view, matchdict["project"], v) for v in result.values())
    if route in INDEX_ROUTES and isinstance(result, dict):
        projects = result.get("projects")
        if isinstance(projects, list):
            kept = [p for p in projects if view.project_allowed(p)]
            result["projects"] = kept
            return len(projects) - len(kept)
    return 0
