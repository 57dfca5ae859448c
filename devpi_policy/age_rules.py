"""devpi_policy's quarantine rules, hooked into its own rule plugin manager.

``policy_min_age``, ``policy_freeze`` and ``policy_unknown_age`` are devpi_policy options,
but their answers depend on the clock and on upload times, not on the options alone. As
rules of devpi_policy's plugin manager (registered by adapters/plugins.py, see
hookspecs.py) they are decided per request on every path devpi_policy enforces (listings,
JSON API, ``.metadata``, ``+f``, inheriting indexes, devpi-web, ``devpi policy check``)
and are never memoised with the option-only decisions; refusals go through refusals.py
like every other rule's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker

from devpi_policy.adapters.quarantine import age_rules, judge

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devpi_policy.core.subject import Subject

hookimpl = HookimplMarker("devpipolicy")


@hookimpl
def devpipolicy_validate_options(index: str, options: Mapping[str, Any]) -> list[str]:
    """Problems with ``policy_min_age``, ``policy_freeze`` and ``policy_unknown_age``."""
    return age_rules(index, options)[1]


@hookimpl
def devpipolicy_has_rules(index: str, options: Mapping[str, Any]) -> bool:
    """An index quarantines when it sets ``policy_min_age`` or ``policy_freeze``."""
    return not age_rules(index, options)[0].empty


@hookimpl
def devpipolicy_check(subject: Subject, options: Mapping[str, Any], xom: Any) -> list[str] | None:
    """Reasons to refuse a file or release younger than ``policy_min_age`` or uploaded
    after ``policy_freeze`` (uploads themselves are never refused for their age)."""
    if subject.phase == "upload":
        return None
    rules, _ = age_rules(subject.index, options)
    if rules.empty:
        return None
    return list(judge(xom, rules, subject).reasons)
