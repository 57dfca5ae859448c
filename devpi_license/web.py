"""devpi-web's version page: a "license" row with the release's license and its verdict.

devpi-web lists non-``+`` versiondata keys on the page on its own; the raw
``license_spdx``/``license_sources`` rows are replaced by one readable row (expression,
how it was found, the index's verdict, a link to the ``+license`` JSON). Mirrored
releases get the row too, from the plugin's store. Rendering never waits for an
extraction: an unknown-yet license shows as pending and is queued.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any, Final

from devpi_foundry_common.failures import log_failure
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.lookup import path_verdict, release_license
from devpi_license.core.release import SOURCES_KEY, SPDX_KEY

log = logging.getLogger(__name__)
VERSION_ROUTE: Final = "/{user}/{index}/{project}/{version}"
ROW: Final = "license"


def _row(found: Any, verdict: dict[str, Any], url: str) -> str:
    if found is None:
        text = "pending (being extracted)"
    elif found.expression:
        text = (f"{escape(found.expression)} (from {escape(found.source or '?')}, "
                f"confidence {found.confidence:.2f})")  # fmt: skip
    else:
        text = "unknown"
    parts = [f"<span class='license-expression'>{text}</span>"]
    state = "refused" if verdict["refused"] else verdict["state"]
    reason = f": {escape(verdict['reason'])}" if verdict.get("reason") else ""
    if not verdict["refused"] and verdict.get("dry_run"):
        state, reason = "would refuse (dry-run)", f": {escape('; '.join(verdict['dry_run']))}"
    parts.append(f"<span class='license-verdict'>verdict: {escape(state)}{reason}</span>")
    if found is not None and found.conflicts:
        conflicts = "; ".join(escape(c) for c in found.conflicts)
        parts.append(f"<span class='license-conflicts'>conflicts: {conflicts}</span>")
    parts.append(f"<a href='{escape(url)}'>details (JSON)</a>")
    return "<br/>\n".join(parts)


def on_before_render(event: Any) -> None:
    """Add the license row to devpi-web's version page (``BeforeRender``)."""
    request = event.get("request")
    value = event.rendering_val
    if request is None or request.matched_route is None or not isinstance(value, dict):
        return
    if request.matched_route.name != VERSION_ROUTE or "infos" not in value:
        return
    try:
        context = value["_context"]
        stage = context.stage
        project, version = context.project, value["resolved_version"]
        found = release_license(request.registry["xom"], stage, project, version, wait=False)
        verdict = path_verdict(stage, stage, found)
        url = request.route_url("devpi_license_release", user=stage.username,
                                index=stage.index, project=project, version=version)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the page renders without the row rather than fail
        log_failure(log, exc, "could not add the license row",
                    metrics_for(request.registry["xom"]))  # fmt: skip
        return
    value["infos"] = [
        (key, html) for key, html in value["infos"] if key not in (SPDX_KEY, SOURCES_KEY)
    ]
    value["infos"].append((ROW, _row(found, verdict, url)))
