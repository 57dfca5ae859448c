"""devpi-server hook implementations of devpi_policy (entry point ``devpi-policy``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_policy.adapters.devpi import metrics_for
from devpi_policy.adapters.serving import wrap_customizers
from devpi_policy.config import FEATURE, add_parser_options

if TYPE_CHECKING:
    from collections.abc import Generator

hookimpl = HookimplMarker("devpiserver")


@hookimpl
def devpiserver_get_features() -> set[str]:
    """Announce devpi_policy in ``/+api`` so clients can tell it is installed."""
    return {FEATURE}


@hookimpl
def devpiserver_add_parser_options(parser: Any) -> None:
    """``--policy-*`` options of devpi-server (who may push releases out, and where)."""
    add_parser_options(parser)


@hookimpl
def devpiserver_metrics(request: Any) -> list[tuple[str, str, float]]:
    """Publish ``devpi_policy_*`` counters in ``/+status``."""
    return metrics_for(request.registry["xom"]).as_devpi_metrics()


@hookimpl
def devpiserver_pyramid_configure(pyramid_config: Any) -> None:
    """Register the policy subscribers and views."""
    pyramid_config.include("devpi_policy.views")


@hookimpl(wrapper=True)
def devpiserver_get_stage_customizer_classes() -> Generator[
    None, list[list[tuple[str, type]]], list[list[tuple[str, type]]]
]:
    """Mix the ``policy_*`` options, their validation and the listing filters into every
    index type's customizer.

    devpi applies only the queried index's customizer to what its bases serve, and refuses
    a second customizer for a built-in type, so wrapping all of them is what makes rules
    hold on mirrors and on every index that inherits from one.
    """
    results = yield
    return wrap_customizers(results)
