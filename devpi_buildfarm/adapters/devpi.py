"""devpi-server side of devpi_buildfarm: index option upgrades and validation, per-server
state."""

from __future__ import annotations

import logging
from typing import Any

from devpi_server.model import BaseStageCustomizer
from pyramid.threadlocal import get_current_request

from devpi_buildfarm.adapters.devpi_store import visibility_problem
from devpi_buildfarm.config import COUNTERS, DEFAULTS, GAUGES, METRICS_PREFIX
from devpi_buildfarm.core.options import option_problems
from devpi_foundry_common import indexconfig
from devpi_foundry_common.customizers import CustomizerWrapper, Results
from devpi_foundry_common.metrics import Metrics
from devpi_foundry_common.singletons import per_server

log = logging.getLogger(__name__)


def metrics_for(xom: Any) -> Metrics:
    """The metrics of this plugin for one devpi-server (one ``xom``)."""
    return per_server(
        xom,
        "devpi-buildfarm",
        "metrics",
        lambda: Metrics(METRICS_PREFIX, counters=COUNTERS, gauges=GAUGES),
    )


def upgrade_index_options(request: Any) -> bool:
    """Store the default of a ``buildfarm_*`` option that a PATCH edits with ``+=``/``-=``
    while the index has no value for it, so devpi can apply the edit; whether it stored any."""
    added = indexconfig.upgrade_index_options(request, DEFAULTS)
    if added:
        metrics_for(request.registry["xom"]).inc("indexconfig_upgrades_total")
        log.info("stored defaults of %s in index %s", added, request.context.stage.name)
    return bool(added)


class BuildfarmOptionsMixin(indexconfig.DeclaredOptions, defaults=DEFAULTS):
    """Declares the ``buildfarm_*`` index options on a stage customizer. They are stored only
    when set (see devpi_foundry_common.indexconfig); unset ones read as their defaults."""


class BuildfarmCustomizerMixin(BuildfarmOptionsMixin):
    """Mixed in before every index type's customizer: ``buildfarm_*`` options are declared
    and checked when an index is created or modified (HTTP 400 listing every problem)."""

    stage: Any
    InvalidIndexconfig: type[Exception]

    def validate_config(self, oldconfig: dict[str, Any], newconfig: dict[str, Any]) -> None:
        super().validate_config(oldconfig, newconfig)  # type: ignore[misc]  # mixin
        if all(oldconfig.get(key) == newconfig.get(key) for key in DEFAULTS):
            return  # unchanged: a later problem (a deleted upload index) never blocks edits
        model = self.stage.xom.model

        def type_of(name: str) -> str | None:
            stage = model.getstage(name)
            return None if stage is None else str(stage.ixconfig.get("type"))

        kind = str(newconfig.get("type", self.stage.ixconfig.get("type")))
        problems = option_problems(self.stage.name, kind, newconfig, type_of)
        problems += _upload_to_problems(self.stage, newconfig)
        if problems:
            raise self.InvalidIndexconfig(problems)


def _upload_to_problems(stage: Any, config: dict[str, Any]) -> list[str]:
    """Whoever sets ``buildfarm_upload_to`` must be allowed to upload there (builds publish
    as the identity that caused them), and its readers must be readers of this index too
    (a built wheel is never more visible than its sdist)."""
    upload_to = config.get("buildfarm_upload_to") or ""
    request = get_current_request()
    if not upload_to or upload_to == stage.name or request is None:
        return []
    target = stage.xom.model.getstage(upload_to)
    if target is None:
        return []
    problem = visibility_problem(stage, target)
    if problem is not None:
        return [f"buildfarm_upload_to on {stage.name}: {problem}"]
    if request.has_permission("upload", target):
        return []
    who = request.authenticated_userid or "anonymous"
    problem = (f"buildfarm_upload_to on {stage.name}: {who} has no upload permission on "
               f"{upload_to!r}; ask its owner to add {who} to its acl_upload")  # fmt: skip
    return [problem]


_WRAPPER = CustomizerWrapper(BuildfarmCustomizerMixin, BaseStageCustomizer, "Buildfarm")


def wrap_customizers(results: Results) -> Results:
    """Every plugin's ``(index_type, customizer)`` pairs, each with the build-farm mixin."""
    return _WRAPPER.wrap_results(results)
