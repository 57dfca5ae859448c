"""devpi-server hook implementations of devpi_buildfarm (entry point ``devpi-buildfarm``)."""

from __future__ import annotations

from typing import Any

from pluggy import HookimplMarker

from devpi_buildfarm.adapters.devpi import metrics_for
from devpi_buildfarm.config import DEFAULTS, FEATURE
from devpi_foundry_common.indexconfig import DefaultsGate

hookimpl = HookimplMarker("devpiserver")
DEFAULTS_GATE = DefaultsGate()


@hookimpl
def devpiserver_get_features() -> set[str]:
    """Announce devpi_buildfarm in ``/+api`` so clients can tell it is installed."""
    return {FEATURE}


@hookimpl
def devpiserver_add_parser_options() -> None:
    """Mark this process as serving, so option defaults apply (see DefaultsGate)."""
    DEFAULTS_GATE.open()


@hookimpl
def devpiserver_indexconfig_defaults() -> dict[str, object]:
    """Declare the ``buildfarm_*`` index options on every index type, mirrors included."""
    return DEFAULTS_GATE.defaults(DEFAULTS)


@hookimpl
def devpiserver_metrics(request: Any) -> list[tuple[str, str, float]]:
    """Publish ``devpi_buildfarm_*`` counters in ``/+status``."""
    return metrics_for(request.registry["xom"]).as_devpi_metrics()


@hookimpl
def devpiserver_pyramid_configure(pyramid_config: Any) -> None:
    """Register the build-farm subscribers and views."""
    pyramid_config.include("devpi_buildfarm.views")
