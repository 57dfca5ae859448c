"""devpi_policy plugin of devpi_license (entry point ``devpi-license``, group ``devpi_policy``).

License rules are decided by devpi_policy, on its paths and under each index's
``policy_mode``, through these hooks; devpi_license never imports devpi_policy.

On uploads the license is read from the uploaded file's core metadata and license files
(bounded reader); everywhere else (pushes, listings, ``+f`` downloads, ``.metadata``,
``devpi policy check``) it is looked up where the release is stored: versiondata of
private releases, the plugin's store for mirrored ones (adapters/lookup.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from pluggy import HookimplMarker
from pyramid.threadlocal import get_current_request

from devpi_foundry_common.failures import log_failure
from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.lookup import holder_of, release_license
from devpi_license.adapters.reading import license_of_file
from devpi_license.adapters.uploads import remember
from devpi_license.core.rules import LicenseRules, option_problems, verdict

if TYPE_CHECKING:
    from collections.abc import Mapping

policy_hookimpl = HookimplMarker("devpipolicy")
log = logging.getLogger(__name__)


@policy_hookimpl
def devpipolicy_validate_options(index: str, options: Mapping[str, Any]) -> list[str]:
    """``license_allow``/``license_deny`` patterns and ``license_unknown``'s value."""
    return option_problems(index, options)


@policy_hookimpl
def devpipolicy_has_rules(options: Mapping[str, Any]) -> bool:
    return LicenseRules.from_options(options).active


@policy_hookimpl
def devpipolicy_facts(subject: Any, xom: Any) -> dict[str, Any] | None:
    """The license of the subject's release: read from an upload's content, else looked up
    where the release is stored (pending: queued for extraction, waited for briefly)."""
    if subject.stream is not None and subject.filename:
        info = license_of_file(subject.filename, subject.stream())
        request = get_current_request()
        if request is not None:
            remember(request, subject.filename, info)
        metrics_for(xom).inc("extractions_total")
        return {"license": info.expression, "license_pending": False,
                "license_unreadable": info.unreadable}  # fmt: skip
    if not subject.version or (subject.phase == "upload" and subject.stored_in in
                               (None, subject.index)):  # fmt: skip
        return None
    project = canonicalize_name(subject.project)
    if subject.stored_in:
        stage = xom.model.getstage(subject.stored_in)
    else:
        stage = holder_of(xom, subject.index, project, subject.version)
    if stage is None:
        return None
    try:
        found = release_license(xom, stage, project, subject.version)
    except Exception as exc:  # noqa: BLE001 - a rule must not pass what could not be looked up
        log_failure(log, exc, f"license lookup of {project} {subject.version} failed",
                    metrics_for(xom))  # fmt: skip
        return {"license": None, "license_pending": True, "license_error": repr(exc)}
    return {
        "license": found.expression if found else None,
        "license_pending": found is None,
        "license_unreadable": found.unreadable if found else (),
        "license_release": found,
    }


@policy_hookimpl
def devpipolicy_check(
    subject: Any, options: Mapping[str, Any], facts: Any, xom: Any
) -> list[str] | None:
    """Refuse what the index's license rules refuse (a pending license counts as refused
    whenever a rule is set), with the reason."""
    rules = LicenseRules.from_options(options)
    if not rules.active or "license_pending" not in facts:
        return None
    found = verdict(rules, facts.get("license"), pending=facts.get("license_pending"),
                    unreadable=facts.get("license_unreadable") or ())  # fmt: skip
    what = f"'{subject.project} {subject.version}'" if subject.version else repr(subject.filename)
    if found.refused:
        metrics_for(xom).inc("rejections_total")
        return [f"{what} {found.reason} on {subject.index}"]
    if found.reason and subject.phase == "upload":  # license_unknown = warn
        log.warning("%s on %s: %s", what, subject.index, found.reason)
    return None
