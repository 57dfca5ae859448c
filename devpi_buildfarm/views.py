"""Pyramid wiring of devpi_buildfarm: subscribers and views."""

from __future__ import annotations

from typing import Any

from pyramid.events import ContextFound

from devpi_buildfarm.adapters.devpi import upgrade_index_options


def on_context_found(event: Any) -> None:
    """Runs for every routed request before its view."""
    upgrade_index_options(event.request)


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_buildfarm.views")``."""
    config.add_subscriber(on_context_found, ContextFound)
