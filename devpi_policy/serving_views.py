"""devpi_policy inside devpi's view pipeline: Pyramid view derivers around devpi's views.

A view deriver wraps a view when the application is configured; this plugin's derivers
sit after Pyramid's permission check (their default place), so they run once devpi has
routed the request *and* authorised what its view declares, and they see what the view
serves. Views they do not concern are left unwrapped (no cost per request).

* ``+f``/``+e`` file views (files and ``.metadata``, GET and HEAD): the entry devpi
  resolves is judged (adapters/files.py), whatever the URL's spelling. devpi checks
  ``pkg_read`` inside these views, so a request that the index options refuse, or that
  needs plugin rules (which may look facts up), is first asked for ``pkg_read``: without it
  devpi answers, and no plugin runs and no reason is given. A URL that resolves to nothing
  before the view (a mirror file devpi fetches in the view) is judged after it, before any
  byte is sent.
  Replicas fetching files from their primary (identity ``+replica``) are never refused.
* tox result uploads (POST to a file's URL) onto a refused file: 403.
* devpi-web's version, documentation and tox result pages of a refused release: 403; its
  index page lists only what the rules leave visible, and its XML-RPC search drops
  refused hits (web_listings.py); the page of a project the rules hide says why, 403
  instead of "does not exist" (project_page.py).
* devpi's index PUT/PATCH views: the ``+=``/``-=`` option upgrade (index_writes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from devpi_foundry_common.index_writes import is_index_write_view, wrap_index_write
from devpi_foundry_common.indexconfig import INDEX_ROUTES
from devpi_policy import project_page, web, web_listings
from devpi_policy.adapters import files
from devpi_policy.adapters.devpi import upgrade_index_options
from devpi_policy.core.evaluate import Decision
from devpi_policy.refusals import POLICIES, PolicyRefused, enforce, refuse

if TYPE_CHECKING:
    from collections.abc import Callable

View = Any
FILE_ROUTES: Final = frozenset(
    {"/{user}/{index}/+f/{relpath:.*}", "/{user}/{index}/+e/{relpath:.*}"}
)
REPLICA_IDENTITY: Final = "+replica"
_SERVING_METHODS: Final = ("GET", "HEAD")


def _methods(options: Any) -> tuple[str, ...] | None:
    methods = options.get("request_method")
    if methods is None:
        return None
    return (methods,) if isinstance(methods, str) else tuple(methods)


def policy_deriver(view: View, info: Any) -> View:
    """Wrap the views this plugin judges; return every other view unchanged."""
    wrapper = _wrapper_for(info.options)
    return view if wrapper is None else wrapper(view)


def _wrapper_for(options: Any) -> Callable[[View], View] | None:  # noqa: PLR0911 - one per kind
    route = options.get("route_name")
    methods = _methods(options)
    serves = methods is None or any(m in _SERVING_METHODS for m in methods)
    if route in FILE_ROUTES:
        if serves:
            return _file_view
        return _toxresult_upload_view if methods == ("POST",) else None
    html = options.get("accept") == "text/html"
    if serves and (route in web.RELEASE_PAGES or (route == web.VERSION_PAGE and html)):
        return _release_page_view
    if serves and route == web_listings.INDEX_PAGE and html:
        return web_listings.index_page_view
    if serves and route == web_listings.PROJECT_PAGE and html:
        return project_page.project_page_view
    if route in INDEX_ROUTES and methods == ("POST",) and options.get("content_type") == "text/xml":
        return web_listings.xmlrpc_search_view
    if is_index_write_view(options):
        return _index_write_view
    return None


def _index_write_view(view: View) -> View:
    return wrap_index_write(view, before=upgrade_index_options)


def _file_view(view: View) -> Callable[[Any, Any], Any]:
    judge = _judged_file_view(view)

    def policy_file_view(context: Any, request: Any) -> Any:
        try:
            return judge(context, request)
        except PolicyRefused as refused:
            # returned, not raised: no exception view (devpi-web's HTML error page with
            # its status badge) renders it; clients get the same status, reason and body
            return refused

    return policy_file_view


def _judged_file_view(view: View) -> Callable[[Any, Any], Any]:
    def judged_file_view(context: Any, request: Any) -> Any:
        if request.method not in _SERVING_METHODS:
            return view(context, request)
        xom = request.registry["xom"]
        policies = request.registry[POLICIES]
        relpath = files.entry_relpath(request.path_info)
        found = files.memoised(xom, policies, relpath)
        if found is files.NOT_MEMOISED:  # the index options alone, no plugin: no side effect
            found = files.decide_file(xom, policies, relpath, plugins=False)
        if found is None:
            return view(context, request)  # no rules where the file is held
        if isinstance(found, Decision) and found.allowed:
            _refuse_download(request, found)  # counted (a dry-run logged), never refused
            return view(context, request)
        if not request.has_permission("pkg_read"):
            return view(context, request)  # devpi refuses: plugins and reasons wait for that
        # a refusal by the index options alone is the whole decision (no plugin rule there)
        decision = _whole_decision(xom, policies, relpath, found)
        if decision is not files.UNRESOLVED:
            _refuse_download(request, decision)
            return view(context, request)
        response = view(context, request)  # devpi resolved it in the view (mirror fetch)
        if getattr(response, "status_code", 500) < 400:  # noqa: PLR2004
            decision = files.decide_file(xom, policies, relpath)
            try:
                _refuse_download(request, decision)
            except PolicyRefused:
                _close(response)  # nothing of it was sent: the body is still an iterator
                raise
        return response

    return judged_file_view


def _whole_decision(xom: Any, policies: Any, relpath: str, found: Any) -> Any:
    """``found`` when it is a decision (the index options alone decide: no plugin rule
    there), else the decision with plugin rules."""
    if isinstance(found, Decision):
        return found
    return files.decide_file(xom, policies, relpath)


def _toxresult_upload_view(view: View) -> Callable[[Any, Any], Any]:
    """devpi's tox result upload (POST to a release file's URL): not onto a refused file."""

    def policy_toxresult_upload_view(context: Any, request: Any) -> Any:
        if request.has_permission("toxresult_upload"):
            xom = request.registry["xom"]
            relpath = files.entry_relpath(request.path_info)
            decision = files.decide_file(xom, request.registry[POLICIES], relpath)
            if isinstance(decision, Decision):
                enforce(request, decision, lambda: f"tox result upload to {request.path}")
        return view(context, request)

    return policy_toxresult_upload_view


def _refuse_download(request: Any, decision: Any) -> None:
    """Refuse (raise) when ``decision``, from files.decide_file, denies."""
    if decision is None or decision is files.UNRESOLVED:
        return
    if (not decision.allowed or decision.dry_run) and (
        request.authenticated_userid == REPLICA_IDENTITY
    ):
        return  # a replica copying what its primary holds: never blocked, nor audited
    enforce(request, decision, lambda: f"download {request.path}")


def _close(response: Any) -> None:
    close = getattr(getattr(response, "app_iter", None), "close", None)
    if close is not None:
        close()


def _release_page_view(view: View) -> Callable[[Any, Any], Any]:
    def policy_release_page_view(context: Any, request: Any) -> Any:
        if request.method in _SERVING_METHODS:
            reason = web.refused_release_page(request)
            if reason is not None:
                refuse(request, [reason], lambda: f"page {request.path}")
        return view(context, request)

    return policy_release_page_view
