"""devpi_policy plugin of devpi_license (entry point ``devpi-license``, group ``devpi_policy``).

License rules are decided by devpi_policy, on its paths and under each index's
``policy_mode``, through these hooks; devpi_license never imports devpi_policy.

In this release the license is known on **uploads and pushes**: it is read from the
uploaded file's core metadata and license files (bounded reader). Serving paths (listings,
``+f`` downloads, mirrors) get license facts once license data is stored per release.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_license.adapters.devpi import metrics_for
from devpi_license.adapters.reading import license_of_file
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
    """The license of an uploaded file, read from its content."""
    if subject.phase != "upload" or not subject.filename or subject.content is None:
        return None
    info = license_of_file(subject.filename, subject.content())
    metrics_for(xom).inc("extractions_total")
    return {"license": info.expression, "license_info": info}


@policy_hookimpl
def devpipolicy_check(
    subject: Any, options: Mapping[str, Any], facts: Any, xom: Any
) -> list[str] | None:
    """Refuse an upload whose license the index's rules refuse, with the reason."""
    rules = LicenseRules.from_options(options)
    if not rules.active or subject.phase != "upload" or not subject.filename:
        return None
    info = facts.get("license_info")
    if info is None:
        return None
    found = verdict(rules, info.expression)
    what = f"'{subject.project} {subject.version}'" if subject.version else repr(subject.filename)
    if found.refused:
        metrics_for(xom).inc("rejections_total")
        return [f"{what} {found.reason} on {subject.index}"]
    if found.reason:  # license_unknown = warn
        log.warning("%s on %s: %s", what, subject.index, found.reason)
    return None
