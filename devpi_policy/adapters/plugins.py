"""devpi_policy's own plugin manager and the calls into it.

Plugins come from the entry-point group ``devpi_policy`` (see hookspecs.py). A plugin
that raises never turns a page into a 500: the error is logged and, because a rule that
cannot be evaluated must not let things through, the subject is refused with a reason
that names the plugin.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pluggy import PluginManager

from devpi_foundry_common.failures import log_failure
from devpi_foundry_common.singletons import per_server
from devpi_policy import age_rules, hookspecs
from devpi_policy.adapters.devpi import metrics_for
from devpi_policy.adapters.quarantine import judge
from devpi_policy.core.facts import Facts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devpi_policy.core.age import AgeRules
    from devpi_policy.core.subject import Subject

log = logging.getLogger(__name__)
NO_FACTS = Facts(list)


def _make_manager() -> PluginManager:
    manager = PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(age_rules, name="devpi-policy-quarantine")  # devpi_policy's own
    manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    manager.check_pending()
    names = [name for name, _ in manager.list_name_plugin()]
    if names:
        log.info("devpi_policy plugins: %s", ", ".join(sorted(str(n) for n in names)))
    return manager


def plugin_manager(xom: Any) -> PluginManager:
    """devpi_policy's plugin manager of this server, loaded from entry points once."""
    return per_server(xom, "devpi-policy", "plugins", _make_manager)


def validate_options(xom: Any, index: str, options: Mapping[str, Any]) -> list[str]:
    """Problems the plugins find in an index's options."""
    manager = plugin_manager(xom)
    if not manager.get_plugins():
        return []
    results = manager.hook.devpipolicy_validate_options(index=index, options=options)
    return [issue for issues in results for issue in issues or ()]


def has_rules(xom: Any, index: str, options: Mapping[str, Any]) -> bool:
    """Whether any plugin has rules in these options."""
    return any(rule_kinds(xom, index, options))


def rule_kinds(xom: Any, index: str, options: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether devpi_policy's own quarantine (age_rules.py) has rules in these options, and
    whether any other plugin has: the quarantine alone is judged without pluggy."""
    manager = plugin_manager(xom)
    try:
        own = manager.is_registered(age_rules) and age_rules.devpipolicy_has_rules(index, options)
        return own, any(_others(manager)(index=index, options=options))
    except Exception as exc:  # noqa: BLE001 - a broken plugin must be evaluated (and fail closed), not skipped
        log_failure(log, exc, f"devpi_policy plugin failed in devpipolicy_has_rules for {index}",
                    metrics_for(xom))  # fmt: skip
        return False, True


@lru_cache(maxsize=8)  # one manager per server (tests: a few)
def _others(manager: PluginManager) -> Any:
    return manager.subset_hook_caller("devpipolicy_has_rules", remove_plugins=[age_rules])


def new_facts(xom: Any, subject: Subject) -> Facts:
    """The lazily fetched plugin facts about ``subject``."""
    manager = plugin_manager(xom)
    if not manager.get_plugins():
        return NO_FACTS

    def provide() -> list[Mapping[str, Any] | None]:
        try:
            return list(manager.hook.devpipolicy_facts(subject=subject, xom=xom))
        except Exception as exc:  # noqa: BLE001 - facts are optional; rules that need them decide without
            what = f"devpi_policy plugin failed in devpipolicy_facts for {subject.label!r}"
            log_failure(log, exc, what, metrics_for(xom))
            return []

    return Facts(provide)


def check(
    xom: Any,
    subject: Subject,
    options: Mapping[str, Any],
    facts: Facts,
    quarantine: AgeRules | None = None,
) -> list[str]:
    """The plugins' reasons to refuse ``subject`` under ``options``; ``quarantine``: the
    index's quarantine rules when they are its only plugin rules (judged without pluggy,
    as age_rules.devpipolicy_check does)."""
    manager = plugin_manager(xom)
    try:
        if quarantine is not None:
            return (
                [] if subject.phase == "upload" else list(judge(xom, quarantine, subject).reasons)
            )
        results = manager.hook.devpipolicy_check(
            subject=subject, options=options, facts=facts, xom=xom
        )
    except Exception as exc:  # noqa: BLE001 - fail closed, with a reason, instead of a 500
        what = f"devpi_policy plugin failed in devpipolicy_check for {subject.label!r}"
        log_failure(log, exc, what, metrics_for(xom))
        return [f"{subject.label!r} could not be checked on {subject.index}: plugin error {exc!r}"]
    return [reason for reasons in results for reason in reasons or ()]
