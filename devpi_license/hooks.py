"""devpi-server hook implementations of devpi_license (entry point ``devpi-license``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_foundry_common.failures import log_failure
from devpi_license.adapters.devpi import metrics_for, wrap_customizers
from devpi_license.adapters.lifecycle import follow_index_changes
from devpi_license.adapters.lookup import existing_extractor, extractor_for, mirror_has_rules
from devpi_license.adapters.uploads import mark_upload
from devpi_license.config import FEATURE, ServerOptions, add_parser_options

if TYPE_CHECKING:
    from collections.abc import Generator

    from devpi_foundry_common.customizers import Results

log = logging.getLogger(__name__)

hookimpl = HookimplMarker("devpiserver")


@hookimpl
def devpiserver_get_features() -> set[str]:
    """Announce devpi_license in ``/+api`` so clients can tell it is installed."""
    return {FEATURE}


@hookimpl
def devpiserver_add_parser_options(parser: Any) -> None:
    """``--license-*`` options of devpi-server."""
    add_parser_options(parser)


@hookimpl(wrapper=True)
def devpiserver_get_stage_customizer_classes() -> Generator[None, Results, Results]:
    """Declare the ``license_*`` index options on every index type, mirrors included."""
    results = yield
    return wrap_customizers(results)


@hookimpl
def devpiserver_metrics(request: Any) -> list[tuple[str, str, float]]:
    """Publish ``devpi_license_*`` counters in ``/+status``."""
    return metrics_for(request.registry["xom"]).as_devpi_metrics()


@hookimpl
def devpiserver_pyramid_configure(pyramid_config: Any) -> None:
    """Register the license subscribers and views, follow mirrors' project pages, and
    forget the licenses of deleted (and re-created) indexes."""
    pyramid_config.include("devpi_license.views")
    xom = pyramid_config.registry["xom"]
    xom.keyfs.notifier.on_key_change("PROJSIMPLELINKS", lambda ev: on_simplelinks(xom, ev))
    follow_index_changes(xom)


def on_simplelinks(xom: Any, event: Any) -> None:
    """A mirror (re)fetched a project page: extract the licenses of its new releases."""
    try:
        params = event.typedkey.params
        eager = ServerOptions.from_args(xom.config.args).mirror_extract == "eager"
        if event.value is None or not eager:
            return
        index = f"{params['user']}/{params['index']}"
        if existing_extractor(xom) is None:
            with xom.keyfs.read_transaction():  # keyfs callbacks run outside any transaction
                if not mirror_has_rules(xom, index):
                    return  # devpi_license is not in use here yet: start nothing
        extractor_for(xom).request(index, params["project"])
    except Exception as exc:  # noqa: BLE001 - notifier hooks must not raise: devpi would not retry the event
        log_failure(log, exc, f"could not queue license extraction for {event.typedkey}",
                    metrics_for(xom), "extraction_errors_total")  # fmt: skip


@hookimpl
def devpiserver_on_upload_sync(stage: Any, project: str, version: str) -> None:
    """Note the upload; its license is recorded when the view is done (see uploads.py)."""
    try:
        mark_upload(stage, project, version)
    except Exception as exc:  # noqa: BLE001 - an upload must never fail for this; serving extracts it later
        log_failure(log, exc, f"could not note the upload of {project} {version} on {stage.name}",
                    metrics_for(stage.xom))  # fmt: skip
