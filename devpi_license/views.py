"""Pyramid wiring of devpi_license: subscribers and views."""

from __future__ import annotations

from typing import Any

from devpi_server.views import apireturn
from pyramid.events import ContextFound

from devpi_foundry_common.indexconfig import requested_index_options, unenforced_options
from devpi_license.adapters.devpi import upgrade_index_options
from devpi_license.config import DEFAULTS, NEEDS_POLICY, POLICY_FEATURE


def on_context_found(event: Any) -> None:
    """Runs for every routed request before its view."""
    request = event.request
    upgrade_index_options(request)
    refuse_unenforceable_options(request)


def refuse_unenforceable_options(request: Any) -> None:
    """License rules are enforced by devpi_policy: without it, setting them is a 400."""
    options = requested_index_options(request)
    if options is None:
        return
    unenforced = unenforced_options(options, DEFAULTS, NEEDS_POLICY)
    if unenforced and POLICY_FEATURE not in request.registry["xom"].supported_features:
        names = ", ".join(unenforced)
        apireturn(
            400,
            message=f"{names}: license rules are enforced by devpi_policy, which this server "
            "does not run; install and enable devpi_policy (part of devpi-foundry) or leave "
            "these options at their defaults",
        )


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_license.views")``."""
    config.add_subscriber(on_context_found, ContextFound)
