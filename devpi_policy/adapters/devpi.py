"""devpi-server side of devpi_policy: index option upgrades and per-server state."""

from __future__ import annotations

import logging
from typing import Any

from devpi_foundry_common import indexconfig
from devpi_foundry_common.metrics import Metrics
from devpi_foundry_common.singletons import per_server
from devpi_policy.config import COUNTERS, DEFAULTS, GAUGES, METRICS_PREFIX

log = logging.getLogger(__name__)


def metrics_for(xom: Any) -> Metrics:
    """The metrics of this plugin for one devpi-server (one ``xom``)."""
    return per_server(
        xom,
        "devpi-policy",
        "metrics",
        lambda: Metrics(METRICS_PREFIX, counters=COUNTERS, gauges=GAUGES),
    )


def upgrade_index_options(request: Any) -> bool:
    """Store the default of a ``policy_*`` option that a PATCH edits with ``+=``/``-=``
    while the index has no value for it, so devpi can apply the edit; whether it stored any."""
    added = indexconfig.upgrade_index_options(request, DEFAULTS)
    if added:
        metrics_for(request.registry["xom"]).inc("indexconfig_upgrades_total")
        log.info("stored defaults of %s in index %s", added, request.context.stage.name)
    return bool(added)


class PolicyOptionsMixin(indexconfig.DeclaredOptions, defaults=DEFAULTS):
    """Declares the ``policy_*`` index options on a stage customizer. They are stored only
    when set (see devpi_foundry_common.indexconfig); unset ones read as their defaults."""


def inheritance_path(stage: Any) -> list[dict[str, Any]]:
    """The ``policy_*`` options of ``stage`` and of every index it inherits from, in devpi's
    resolution order; options an older index lacks show their defaults."""
    return [
        {"index": s.name, **{key: s.ixconfig.get(key, value) for key, value in DEFAULTS.items()}}
        for s in stage.sro()
    ]
