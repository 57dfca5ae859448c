"""An example devpi_policy plugin: refuse pre-releases on indexes that ask for it.

Index options (declared through devpi-server's ``devpiserver_indexconfig_defaults``):

* ``example_no_prereleases`` (bool): refuse pre-release versions (``2.0b1``, ``1.0rc1``).
* ``example_prerelease_ok`` (list of project names): projects exempt from the rule.

The rule itself comes through devpi_policy's hooks (marker ``devpipolicy``), so
devpi_policy enforces it on every path: uploads, pushes, listings and downloads.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pluggy import HookimplMarker

server_hookimpl = HookimplMarker("devpiserver")
policy_hookimpl = HookimplMarker("devpipolicy")

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@server_hookimpl
def devpiserver_indexconfig_defaults() -> dict[str, object]:
    """The example's index options and their defaults."""
    return {"example_no_prereleases": False, "example_prerelease_ok": []}


@policy_hookimpl
def devpipolicy_validate_options(options: Any) -> list[str]:
    """Exempt projects must be valid project names."""
    return [
        f"example_prerelease_ok: {name!r} is not a project name"
        for name in options.get("example_prerelease_ok") or ()
        if not _NAME.match(name)
    ]


@policy_hookimpl
def devpipolicy_has_rules(options: Any) -> bool:
    """The rule is active where ``example_no_prereleases`` is set."""
    return bool(options.get("example_no_prereleases"))


@policy_hookimpl
def devpipolicy_facts(subject: Any) -> dict[str, object] | None:
    """Contribute the fact ``prerelease`` for subjects with a version."""
    if not subject.version:
        return None
    try:
        return {"prerelease": Version(subject.version).is_prerelease}
    except InvalidVersion:
        return None


@policy_hookimpl
def devpipolicy_check(subject: Any, options: Any, facts: Any) -> list[str] | None:
    """Refuse pre-releases unless the project is exempt."""
    if not options.get("example_no_prereleases") or not facts.get("prerelease"):
        return None
    exempt = {canonicalize_name(n) for n in options.get("example_prerelease_ok") or ()}
    if canonicalize_name(subject.project) in exempt:
        return None
    reason = (
        f"'{subject.project} {subject.version}' is a pre-release, refused by "
        f"example_no_prereleases on {subject.index}"
    )
    return [reason]
