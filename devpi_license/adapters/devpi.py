"""devpi-server side of devpi_license: index options (declared on every index type's
customizer, upgraded for ``+=``/``-=``) and per-server state."""

from __future__ import annotations

import logging
from typing import Any

from devpi_server.model import BaseStageCustomizer

from devpi_foundry_common import indexconfig
from devpi_foundry_common.customizers import CustomizerWrapper, Results
from devpi_foundry_common.metrics import Metrics
from devpi_foundry_common.singletons import per_server
from devpi_license.config import COUNTERS, DEFAULTS, GAUGES, METRICS_PREFIX

log = logging.getLogger(__name__)


def metrics_for(xom: Any) -> Metrics:
    """The metrics of this plugin for one devpi-server (one ``xom``)."""
    return per_server(
        xom,
        "devpi-license",
        "metrics",
        lambda: Metrics(METRICS_PREFIX, counters=COUNTERS, gauges=GAUGES),
    )


def upgrade_index_options(request: Any) -> bool:
    """Store the default of a ``license_*`` option that a PATCH edits with ``+=``/``-=``
    while the index has no value for it, so devpi can apply the edit; whether it stored any."""
    added = indexconfig.upgrade_index_options(request, DEFAULTS)
    if added:
        metrics_for(request.registry["xom"]).inc("indexconfig_upgrades_total")
        log.info("stored defaults of %s in index %s", added, request.context.stage.name)
    return bool(added)


class LicenseOptionsMixin(indexconfig.DeclaredOptions, defaults=DEFAULTS):
    """Declares the ``license_*`` index options on a stage customizer. They are stored only
    when set (see devpi_foundry_common.indexconfig); unset ones read as their defaults."""


_WRAPPER = CustomizerWrapper(LicenseOptionsMixin, BaseStageCustomizer, "License")


def wrap_customizers(results: Results) -> Results:
    """Every plugin's ``(index_type, customizer)`` pairs, each declaring ``license_*``."""
    return _WRAPPER.wrap_results(results)
