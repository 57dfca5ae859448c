"""devpi-web pages (when devpi-web is installed): the same rules as every other path.

devpi-web's version page lists a release's files from the index's own link store, and its
documentation and tox result pages are reached by project and version; neither passes
devpi's listing filters. A ``BeforeRender`` subscriber drops refused files from the
version page, and a view wrapper (serving_views.py) refuses documentation and tox result
pages of refused releases. Nothing here imports devpi-web.
"""

from __future__ import annotations

from typing import Any

from devpi_policy.adapters.policy import decide_path
from devpi_policy.adapters.serving import ServingView, stored_in
from devpi_policy.core.subject import Subject

VERSION_PAGE = "/{user}/{index}/{project}/{version}"
RELEASE_PAGES = frozenset({"docroot", "docviewroot", "toxresults", "toxresult"})


def refused_release_page(request: Any) -> str | None:
    """The reason a devpi-web docs or tox result page of a refused release is refused."""
    view = ServingView.of(request.context.stage)
    if view is None:
        return None
    project, version = request.matchdict["project"], request.matchdict["version"]
    if view.version_allowed(project, version):
        return None
    subject = Subject(phase="serve", index=view.stages[0].name, project=project, version=version)
    decision = decide_path(view.xom, view.policies, subject)
    return decision.reason or f"{project!r} {version!r} is refused on {view.stages[0].name}"


def on_before_render(event: Any) -> None:
    """Drop refused files from devpi-web's version page."""
    request = event.get("request")
    value = event.rendering_val
    route = getattr(request, "matched_route", None)
    if route is None or route.name != VERSION_PAGE or not isinstance(value, dict):
        return
    files = value.get("files")
    if not files:
        return
    view = ServingView.of(request.context.stage)
    if view is None:
        return
    project = request.matchdict["project"]
    value["files"] = [
        info
        for info in files
        if view.file_allowed(project, info.basename, stored_in(info.link.entrypath))
    ]
