"""Pyramid wiring of devpi_policy: the request-time veto, response filters and views.

* ``ContextFound`` runs after routing and before the view, inside the request's write
  transaction: an upload or push refused there stores nothing. The refusal is HTTP 403
  whose reason phrase is the policy's reason (devpi and twine print it); pushes also get
  it as the JSON ``message`` devpi-client shows.
* Direct ``+f/``/``+e/`` downloads are refused there too, except for replicas fetching
  files from their primary (identity ``+replica``): replication is never blocked.
* A tween inside devpi's transaction tween filters the ``+links`` of devpi's JSON API per file.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from devpi_server.views import apireturn
from pyramid.events import BeforeRender, ContextFound
from pyramid.httpexceptions import HTTPForbidden
from pyramid.tweens import EXCVIEW

from devpi_foundry_common.index_writes import is_index_write_view, wrap_index_write
from devpi_policy import web
from devpi_policy.adapters import jsonapi, requests
from devpi_policy.adapters.checkapi import check_spec
from devpi_policy.adapters.devpi import inheritance_path, metrics_for, upgrade_index_options
from devpi_policy.adapters.policy import policy_cache
from devpi_policy.adapters.serving import ServingView
from devpi_policy.errors import InvalidSpecError

if TYPE_CHECKING:
    from collections.abc import Callable

    from devpi_foundry_common.metrics import Metrics
    from devpi_policy.core.evaluate import Decision

log = logging.getLogger(__name__)

SHOW_ROUTE = "devpi_policy_show"
CHECK_ROUTE = "devpi_policy_check"
REPLICA_IDENTITY = "+replica"
_MAX_REASON = 900
#: Registry keys of this server's metrics and policy cache, looked up once in includeme:
#: every download uses both, and devpi's singleton lookup takes a lock all threads share.
_METRICS = "devpi_policy.metrics"
_POLICIES = "devpi_policy.policies"


class PolicyRefused(HTTPForbidden):  # type: ignore[misc]  # pyramid ships no type hints
    """403 whose reason phrase (status line) is the policy's reason."""

    def __init__(self, message: str, *, as_json: bool) -> None:
        self.title = _reason_phrase(message)
        if as_json:
            body = json.dumps({"type": "policy", "message": message}).encode()
            super().__init__(body=body, content_type="application/json")
        else:
            super().__init__(detail=message)


def _reason_phrase(message: str) -> str:
    """One latin-1 line for the HTTP status line: user-controlled names cannot inject."""
    text = " ".join(message.split())
    text = text.encode("latin-1", "backslashreplace").decode("latin-1")
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _metrics(request: Any) -> Metrics:
    found: Metrics = request.registry[_METRICS]
    return found


def _enforce(
    request: Any, decision: Decision, what: Callable[[], str], *, as_json: bool = False
) -> None:
    """Count the check; log and refuse when it denies. ``what`` names the request for the
    log, and is only called when there is something to log."""
    metrics = _metrics(request)
    metrics.inc("checks_total")
    if decision.dry_run:
        metrics.inc("dry_run_total")
        log.warning("policy dry-run, %s let through: %s", what(), "; ".join(decision.dry_run))
    if decision.allowed:
        return
    metrics.inc("denials_total")
    log.info("policy refused %s: %s", what(), decision.reason)
    message = f"policy: {decision.reason}"
    raise PolicyRefused(message, as_json=as_json)


def on_context_found(event: Any) -> None:
    """Runs for every routed request before its view.

    Downloads come first: they are most requests, and an allowed one costs a few lookups.
    """
    request = event.request
    route = request.matched_route
    if route is None:
        return
    name = route.name
    if name in requests.FILE_ROUTES:
        decision = requests.check_download(request, request.registry[_POLICIES])
        if decision is None:
            return
        if not decision.allowed and request.authenticated_userid == REPLICA_IDENTITY:
            return  # a replica copying what its primary holds: replication is never blocked
        _enforce(request, decision, lambda: f"download {request.path}")
        return
    if name in web.RELEASE_PAGES and request.method == "GET":
        reason = web.refused_release_page(request)
        if reason is not None:
            message = f"policy: {reason}"
            raise PolicyRefused(message, as_json=False)
    elif name in requests.UPLOAD_ROUTES:
        verdict = requests.check_store_request(request)
        if verdict is not None:
            what = f"{request.method} to {request.path}"
            _enforce(request, verdict.decision, lambda: what, as_json=verdict.json)


def index_writes_deriver(view: Any, info: Any) -> Any:
    """Pyramid view deriver: devpi's index PUT/PATCH views store the defaults of ``policy_*``
    options edited with ``+=``/``-=`` only once devpi has authorised the request."""
    if not is_index_write_view(info.options):
        return view
    return wrap_index_write(view, before=upgrade_index_options)


def json_filter_tween_factory(handler: Any, registry: Any) -> Any:  # noqa: ARG001
    """A tween inside devpi's transaction tween, so the filter reads the same state."""

    def json_filter_tween(request: Any) -> Any:
        response = handler(request)
        filter_json_response(request, response)
        return response

    return json_filter_tween


def filter_json_response(request: Any, response: Any) -> None:
    """Filter devpi's JSON API replies per file."""
    route = getattr(request, "matched_route", None)
    if route is None or route.name not in jsonapi.ROUTES or request.method != "GET":
        return
    if response.status_code != 200 or response.content_type != "application/json":  # noqa: PLR2004
        return
    view = ServingView.of(request.context.stage)
    if view is None:
        return
    data = json.loads(response.body)
    hidden = jsonapi.filter_result(view, route.name, request.matchdict, data)
    if hidden:
        _metrics(request).inc("hidden_total", hidden)
        response.body = json.dumps(data).encode()


def policy_show(request: Any) -> None:
    """``GET /{user}/{index}/+policy``: the rules that apply to what this index serves."""
    stage = request.context.stage
    path = inheritance_path(stage)
    rule_keys = ("policy_include", "policy_exclude", "policy_exclude_files")
    result = {
        "index": stage.name,
        "mode": path[0]["policy_mode"],
        "indexes": path,
        "with_rules": [entry["index"] for entry in path if any(entry[k] for k in rule_keys)],
    }
    apireturn(200, type="policy", result=result)


def policy_check(request: Any) -> None:
    """``GET /{user}/{index}/+policy/check?spec=``: would this index refuse SPEC, and why."""
    spec = request.GET.get("spec", "")
    try:
        result = check_spec(request.context.stage, spec)
    except InvalidSpecError as exc:
        apireturn(400, message=str(exc))
    _metrics(request).inc("checks_total")
    apireturn(200, type="policy-check", result=result)


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_policy.views")``."""
    xom = config.registry["xom"]
    config.registry[_METRICS] = metrics_for(xom)
    config.registry[_POLICIES] = policy_cache(xom)
    config.add_subscriber(on_context_found, ContextFound)
    config.add_view_deriver(index_writes_deriver, name="devpi_policy_index_writes")
    config.add_subscriber(web.on_before_render, BeforeRender)
    config.add_tween(
        "devpi_policy.views.json_filter_tween_factory",
        under="devpi_server.views.tween_keyfs_transaction",
        over=EXCVIEW,
    )
    config.add_route(SHOW_ROUTE, "/{user}/{index}/+policy")
    config.add_route(CHECK_ROUTE, "/{user}/{index}/+policy/check")
    config.add_view(policy_show, route_name=SHOW_ROUTE, request_method="GET", permission="pkg_read")
    config.add_view(
        policy_check, route_name=CHECK_ROUTE, request_method="GET", permission="pkg_read"
    )
