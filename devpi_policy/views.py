"""Pyramid wiring of devpi_policy: the upload veto, response filters and views.

* ``ContextFound`` runs after routing and before the view, inside the request's write
  transaction: an upload or push refused there stores nothing. The refusal is HTTP 403
  whose reason phrase is the policy's reason (refusals.py).
* Downloads, devpi-web's release pages and index writes are judged inside devpi's view
  pipeline, after its permission check (serving_views.py).
* A tween inside devpi's transaction tween filters the ``+links`` of devpi's JSON API per file.
"""

from __future__ import annotations

import json
from typing import Any

from devpi_server.views import apireturn
from pyramid.events import ApplicationCreated, BeforeRender, ContextFound
from pyramid.tweens import EXCVIEW

from devpi_foundry_common.gcfreeze import freeze_startup_heap
from devpi_policy import web
from devpi_policy.adapters import audit, audit_view, jsonapi, requests
from devpi_policy.adapters.audit import AUDIT
from devpi_policy.adapters.checkapi import check_spec, parse_newer_than
from devpi_policy.adapters.devpi import inheritance_path, metrics_for
from devpi_policy.adapters.policy import policy_cache
from devpi_policy.adapters.serving import ServingView
from devpi_policy.errors import InvalidSinceError, InvalidSpecError
from devpi_policy.refusals import METRICS, POLICIES, enforce, metrics
from devpi_policy.serving_views import policy_deriver

SHOW_ROUTE = "devpi_policy_show"
CHECK_ROUTE = "devpi_policy_check"
AUDIT_ROUTE = "devpi_policy_audit"
RULE_KEYS = (
    "policy_include",
    "policy_exclude",
    "policy_exclude_files",
    "policy_min_age",
    "policy_freeze",
)


def on_context_found(event: Any) -> None:
    """Runs for every routed request before its view: uploads and pushes are judged here,
    before devpi's view stores anything (after devpi's own permission check, see
    requests.check_store_request)."""
    request = event.request
    route = request.matched_route
    if route is None or route.name not in requests.UPLOAD_ROUTES:
        return
    verdict = requests.check_store_request(request)
    if verdict is not None:
        what = f"{request.method} to {request.path}"
        enforce(request, verdict.decision, lambda: what, as_json=verdict.json)


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
        metrics(request).inc("hidden_total", hidden)
        response.body = json.dumps(data).encode()


def policy_show(request: Any) -> None:
    """``GET /{user}/{index}/+policy``: the rules that apply to what this index serves."""
    stage = request.context.stage
    path = inheritance_path(stage)
    rule_keys = RULE_KEYS
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
        result = check_spec(request.context.stage, spec, parse_newer_than(request.GET))
    except InvalidSpecError as exc:
        apireturn(400, message=str(exc))
    metrics(request).inc("checks_total")
    apireturn(200, type="policy-check", result=result)


def policy_audit(request: Any) -> None:
    """``GET /{user}/{index}/+policy/audit?since=&request=``: the audit rows of this index
    (devpi's ``index_modify`` permission: its owner or root)."""
    stage = request.context.stage
    try:
        since = audit_view.since_of(request.GET.get("since"))
    except InvalidSinceError as exc:
        apireturn(400, message=str(exc))
    result = audit_view.rows_of(request.registry[AUDIT], stage.name, since,
                                request.GET.get("request") or None)  # fmt: skip
    apireturn(200, type="policy-audit", result=result)


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_policy.views")``."""
    xom = config.registry["xom"]
    config.registry[METRICS] = metrics_for(xom)
    config.registry[POLICIES] = policy_cache(xom)
    audit.setup(config.registry, xom)
    config.add_subscriber(on_context_found, ContextFound)
    config.add_subscriber(freeze_startup_heap, ApplicationCreated)
    config.add_view_deriver(policy_deriver, name="devpi_policy")
    config.add_subscriber(web.on_before_render, BeforeRender)
    config.add_tween(
        "devpi_policy.views.json_filter_tween_factory",
        under="devpi_server.views.tween_keyfs_transaction",
        over=EXCVIEW,
    )
    config.include("devpi_policy.age_views")
    config.add_route(SHOW_ROUTE, "/{user}/{index}/+policy")
    config.add_route(CHECK_ROUTE, "/{user}/{index}/+policy/check")
    config.add_view(policy_show, route_name=SHOW_ROUTE, request_method="GET", permission="pkg_read")
    config.add_view(
        policy_check, route_name=CHECK_ROUTE, request_method="GET", permission="pkg_read"
    )
    config.add_route(AUDIT_ROUTE, "/{user}/{index}/+policy/audit")
    config.add_view(
        policy_audit, route_name=AUDIT_ROUTE, request_method="GET", permission="index_modify"
    )
