"""Pyramid wiring of devpi_policy: subscribers and views."""

from __future__ import annotations

from typing import Any

from devpi_server.views import apireturn
from pyramid.events import ContextFound

from devpi_policy.adapters.devpi import inheritance_path, upgrade_index_options

SHOW_ROUTE = "devpi_policy_show"


def on_context_found(event: Any) -> None:
    """Runs for every routed request before its view."""
    upgrade_index_options(event.request)


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


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_policy.views")``."""
    config.add_subscriber(on_context_found, ContextFound)
    config.add_route(SHOW_ROUTE, "/{user}/{index}/+policy")
    config.add_view(policy_show, route_name=SHOW_ROUTE, request_method="GET", permission="pkg_read")
