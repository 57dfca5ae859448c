"""Pyramid wiring of the quarantine: upload-time keys and fetches, exceptions, JSON pages.

* keyfs keys of upload times and exceptions (upstream_times.py, exceptions_store.py);
* a keyfs callback on ``PROJSIMPLELINKS`` (devpi (re)fetched a mirror's project page):
  the primary fetches the upstream's upload times on devpi's event thread and stores them;
* ``+policy/exceptions`` views (exception_views.py);
* PEP 691 pages as api-version 1.1 with ``upload-time`` (simple_json.py);
* deleting an index (or its user) deletes what this plugin stored about it, in devpi's
  own write transaction, once devpi has allowed and done the deletion.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from devpi_foundry_common.indexconfig import INDEX_ROUTES
from devpi_policy.adapters import exceptions_store, upload_times, upstream_times
from devpi_policy.simple_json import simple_json_deriver

log = logging.getLogger(__name__)
USER_ROUTES: Final = frozenset({"/{user}", "/{user}/"})
_ERROR: Final = 400


def on_simplelinks(xom: Any, event: Any) -> None:
    """A mirror (re)fetched a project page: fetch and store its upload times (primary
    only; devpi's event thread, bounded by devpi's request timeout)."""
    try:
        if xom.is_replica() or not event.value:
            return
        params = event.typedkey.params
        index = f"{params['user']}/{params['index']}"
        timeout = min(float(xom.config.request_timeout), upload_times.MAX_WAIT)
        upstream_times.fetcher(xom).fetch_and_store(index, params["project"], timeout)
    except Exception:  # keyfs callbacks must not raise: devpi would not retry the event
        log.exception("could not fetch the upload times for %r", event)


def deletion_deriver(view: Any, info: Any) -> Any:
    """Wrap devpi's DELETE views of indexes and users."""
    route = info.options.get("route_name")
    methods = info.options.get("request_method")
    methods = (methods,) if isinstance(methods, str) else tuple(methods or ())
    if "DELETE" not in methods or route not in INDEX_ROUTES | USER_ROUTES:
        return view

    def policy_deletion_view(context: Any, request: Any) -> Any:
        indexes = _indexes(request, user_route=route in USER_ROUTES)
        try:
            response = view(context, request)
        except BaseException as exc:  # devpi answers (success too) by raising; re-raised
            _forget_after(request, exc, indexes)
            raise
        _forget_after(request, response, indexes)
        return response

    return policy_deletion_view


def _forget_after(request: Any, outcome: Any, indexes: list[str]) -> None:
    """devpi deleted ``indexes`` (its answer is a success): delete our data about them."""
    status = getattr(outcome, "status_code", None)
    if not isinstance(status, int) or status >= _ERROR:
        return
    xom = request.registry["xom"]
    for index in indexes:
        upstream_times.forget_index(xom, index)
        exceptions_store.forget_index(xom, index)


def _indexes(request: Any, *, user_route: bool) -> list[str]:
    user = request.matchdict.get("user", "")
    if not user_route:
        return [f"{user}/{request.matchdict.get('index', '')}"]
    found = request.registry["xom"].model.get_user(user)
    config = {} if found is None else found.get()
    return [f"{user}/{name}" for name in config.get("indexes", {})]


def includeme(config: Any) -> None:
    """Called from devpi_policy.views."""
    xom = config.registry["xom"]
    upstream_times.register_keys(xom.keyfs)
    exceptions_store.register_key(xom.keyfs)
    xom.keyfs.notifier.on_key_change("PROJSIMPLELINKS", lambda ev: on_simplelinks(xom, ev))
    config.include("devpi_policy.exception_views")
    config.add_view_deriver(simple_json_deriver, name="devpi_policy_simple_json")
    config.add_view_deriver(deletion_deriver, name="devpi_policy_deletion")
