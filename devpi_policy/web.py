"""devpi-web pages (when devpi-web is installed): the same rules as every other path.

devpi-web's version page lists a release's files from the index's own link store, and its
documentation and tox result pages are reached by project and version; neither passes
devpi's listing filters. A view wrapper (serving_views.py) refuses the version,
documentation and tox result pages of refused releases, and a ``BeforeRender`` subscriber
drops refused files from the version page of an allowed one. Index, project and search
pages: web_listings.py. Nothing here imports devpi-web.
"""

from __future__ import annotations

from typing import Any

from packaging.version import InvalidVersion, Version

from devpi_policy import web_listings
from devpi_policy.adapters.policy import decide_path
from devpi_policy.adapters.serving import ServingView
from devpi_policy.core.links import stored_in
from devpi_policy.core.subject import Subject

VERSION_PAGE = "/{user}/{index}/{project}/{version}"
RELEASE_PAGES = frozenset({"docroot", "docviewroot", "toxresults", "toxresult"})


def refused_release_page(request: Any) -> str | None:
    """The reason a devpi-web docs or tox result page of a refused release is refused."""
    view = ServingView.of(request.context.stage)
    if view is None:
        return None
    project, version = request.matchdict["project"], request.matchdict["version"].rstrip("/")
    if version in ("latest", "stable"):  # as devpi-web resolves it: the index's own newest
        version = newest(request.context.stage.list_versions_perstage(project) or (),
                         stable=version == "stable") or version  # fmt: skip
    if view.version_allowed(project, version):
        return None
    subject = Subject(phase="serve", index=view.name, project=project, version=version)
    decision = decide_path(view.xom, view.policies, subject)
    return decision.reason or f"{project!r} {version!r} is refused on {view.name}"


def newest(versions: Any, *, stable: bool) -> str | None:
    """The highest valid PEP 440 version of ``versions`` (``stable``: no pre-releases).

    >>> newest(["1.0", "2.0rc1", "x"], stable=True), newest(["1.0", "2.0rc1"], stable=False)
    ('1.0', '2.0rc1')
    """
    parsed = []
    for text in versions:
        try:
            found = Version(str(text))
        except InvalidVersion:
            continue
        if not (stable and found.is_prerelease):
            parsed.append((found, str(text)))
    return max(parsed)[1] if parsed else None


def on_before_render(event: Any) -> None:
    """Drop refused files from devpi-web's version page, refused versions from its project
    page and refused hits from its search (web_listings.py)."""
    request = event.get("request")
    value = event.rendering_val
    route = getattr(request, "matched_route", None)
    if route is None or not isinstance(value, dict):
        return
    if route.name == web_listings.PROJECT_PAGE and "versions" in value:  # not an error page
        web_listings.filter_project_page(request, value)
    elif route.name == web_listings.SEARCH_PAGE:
        web_listings.filter_search(request, value)
    elif route.name == VERSION_PAGE:
        _filter_version_page(request, value)


def _filter_version_page(request: Any, value: dict[str, Any]) -> None:
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
