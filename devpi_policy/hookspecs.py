"""Hook specifications of devpi_policy's own plugin manager (project name ``devpipolicy``).

Other plugins add rule types and facts to devpi_policy without importing it: they register
a module under the entry-point group ``devpi_policy`` and mark its functions with
``pluggy.HookimplMarker("devpipolicy")``. devpi_policy calls them wherever it decides, on
every path (uploads, pushes, listings, downloads, ``devpi policy check``), and combines
their reasons with its own under each index's ``policy_mode``. See docs/policy-plugins.md.

Every hook receives plain values; ``xom`` is devpi-server's server object for plugins
that keep their own per-server state. Hooks run on request threads: keep them fast and
never do network I/O in them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookspecMarker

if TYPE_CHECKING:
    from collections.abc import Mapping

    from devpi_policy.core.facts import Facts
    from devpi_policy.core.subject import Subject

PROJECT_NAME = "devpipolicy"
ENTRY_POINT_GROUP = "devpi_policy"

hookspec = HookspecMarker(PROJECT_NAME)


@hookspec
def devpipolicy_validate_options(index: str, options: Mapping[str, Any]) -> list[str] | None:
    """Problems with this plugin's options in ``options`` (an index's full configuration).

    Called when an index is created or modified; all plugins' problems and devpi_policy's
    own are refused together in one message. Return ``None`` or ``[]`` when all is well.
    """


@hookspec
def devpipolicy_has_rules(index: str, options: Mapping[str, Any]) -> bool | None:
    """Whether ``options`` hold rules of this plugin.

    devpi_policy skips indexes where neither it nor any plugin has rules, so serving
    through them costs nothing; return ``True`` whenever your ``devpipolicy_check``
    could refuse something.
    """


@hookspec
def devpipolicy_check(
    subject: Subject, options: Mapping[str, Any], facts: Facts, xom: Any
) -> list[str] | None:
    """Reasons the index ``subject.index``, configured with ``options``, refuses ``subject``.

    Each reason is one sentence a person reads, naming the rule and the index, e.g.
    ``"'foo 1.0' license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on team/prod"``.
    Return ``None`` or ``[]`` to allow. ``facts`` gives what plugins know about the subject.
    """


@hookspec
def devpipolicy_facts(subject: Subject, xom: Any) -> Mapping[str, Any] | None:
    """Facts this plugin knows about ``subject`` (e.g. ``{"license": "MIT"}``).

    Asked lazily, once per subject, the first time a rule reads a fact; the results of all
    plugins are merged (the first plugin to name a fact wins).
    """
