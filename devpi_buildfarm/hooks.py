"""devpi-server hook implementations of devpi_buildfarm (entry point ``devpi-buildfarm``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_buildfarm.adapters import lifecycle, service
from devpi_buildfarm.adapters.devpi import metrics_for, wrap_customizers
from devpi_buildfarm.config import FEATURE, SERVER_OPTIONS
from devpi_foundry_common.failures import log_failure

if TYPE_CHECKING:
    from collections.abc import Generator

    from devpi_foundry_common.customizers import Results

hookimpl = HookimplMarker("devpiserver")
log = logging.getLogger(__name__)


@hookimpl
def devpiserver_get_features() -> set[str]:
    """Announce devpi_buildfarm in ``/+api`` so clients can tell it is installed."""
    return {FEATURE}


@hookimpl
def devpiserver_add_parser_options(parser: Any) -> None:
    """Add the ``--buildfarm-*`` server options."""
    group = parser.addgroup("devpi-buildfarm options")
    for flag, kwargs in SERVER_OPTIONS:
        group.addoption(flag, **kwargs)


@hookimpl(wrapper=True)
def devpiserver_get_stage_customizer_classes() -> Generator[None, Results, Results]:
    """Declare and validate the ``buildfarm_*`` options on every index type's customizer."""
    results = yield
    return wrap_customizers(results)


@hookimpl
def devpiserver_metrics(request: Any) -> list[tuple[str, str, float]]:
    """Publish ``devpi_buildfarm_*`` counters and queue gauges in ``/+status`` (kept up
    to date by the farm's threads: nothing is counted here)."""
    return metrics_for(request.registry["xom"]).as_devpi_metrics()


@hookimpl
def devpiserver_pyramid_configure(pyramid_config: Any) -> None:
    """Register the build-farm views and, on a primary that builds, its worker threads and
    the forgetting of deleted indexes' jobs."""
    pyramid_config.include("devpi_buildfarm.views")
    xom = pyramid_config.registry["xom"]
    lifecycle.follow_index_changes(xom)
    service.start(xom)


@hookimpl
def devpiserver_get_identity(request: Any, credentials: Any) -> Any:
    """Authenticate a build's own requests (its job credential) as the job's identity."""
    return service.job_identity(request, credentials)


@hookimpl
def devpiserver_on_upload_sync(stage: Any, project: str, version: str) -> None:
    """Queue an uploaded sdist's builds right after the upload commits."""
    service.on_upload_sync(stage, project, version)


@hookimpl
def devpiserver_on_upload(stage: Any, project: str, version: str, link: Any) -> None:
    """Queue builds for an uploaded sdist (notifier thread, after the upload's commit)."""
    try:
        service.on_upload(stage, project, version, link)
    except Exception as exc:  # noqa: BLE001 - a notifier hook must never break devpi's event processing
        log_failure(log, exc, f"could not queue builds for {link.basename}",
                    metrics_for(stage.xom), "enqueue_errors_total")  # fmt: skip
