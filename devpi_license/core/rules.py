"""License rules of an index and their verdict on a license expression.

``license_deny`` and ``license_allow`` hold SPDX identifiers or globs (``GPL-*``), matched
without regard to case. A license is refused when a deny pattern matches it, or when
``license_allow`` is set and no allow pattern matches it. A pattern that names an exception
(``GPL-2.0-only WITH Classpath-exception-2.0``) matches that combination only, and in
``license_allow`` it lets the combination through even where ``license_deny`` refuses the
bare license. ``A OR B`` passes if either passes, ``A AND B`` needs both. A release whose
license is unknown is judged by ``license_unknown`` (``allow``, ``warn`` or ``deny``); one
whose license is not extracted yet (``pending``) is refused whenever any rule is set. A
release one of whose files the bounded reader refused (``unreadable``) is refused whenever
any rule is set, unless both ``license_unreadable`` and ``license_unknown`` are set to
``allow`` on the index; a license its metadata still names is judged first.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from devpi_license.core.spdx import All, Either, License, Node, parse

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

UNKNOWN_MODES: Final = ("allow", "warn", "deny")
UNREADABLE_MODES: Final = ("allow", "deny")
_PATTERN: Final = re.compile(r"^[A-Za-z0-9.+*?\[\]-]+( WITH [A-Za-z0-9.+*?\[\]-]+)?$")


@dataclass(frozen=True, slots=True)
class LicenseRules:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    unknown: str = "allow"
    unreadable: str = "deny"
    #: whether the index sets ``license_unknown`` itself (not only by default)
    unknown_set: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LicenseRules:
        return cls(
            allow=tuple(_as_list(options.get("license_allow"))),
            deny=tuple(_as_list(options.get("license_deny"))),
            unknown=str(options.get("license_unknown") or "allow"),
            unreadable=str(options.get("license_unreadable") or "deny"),
            unknown_set=bool(options.get("license_unknown")),
        )

    @property
    def unreadable_allowed(self) -> bool:
        """Unreadable files pass only when the index says so twice, explicitly."""
        return self.unreadable == "allow" and self.unknown_set and self.unknown == "allow"

    @property
    def active(self) -> bool:
        return bool(self.allow or self.deny or self.unknown != "allow")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """``state`` is allowed, denied, unknown or pending; ``refused`` says whether the rules
    refuse it, and ``reason`` why (or, for ``license_unknown = warn``, the warning)."""

    state: str
    refused: bool = False
    reason: str | None = None

    @property
    def allowed(self) -> bool:
        return not self.refused


def _as_list(value: object) -> list[str]:
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return [" ".join(str(item).split()) for item in items if str(item).strip()]


def option_problems(index: str, options: Mapping[str, Any]) -> list[str]:
    """Why the ``license_*`` options of ``index`` cannot be stored (all at once)."""
    problems = []
    for key in ("license_allow", "license_deny"):
        value = options.get(key) or []
        if not isinstance(value, str | list | tuple):
            problems.append(f"{key} on {index}: expected a list of SPDX identifiers or globs")
            continue
        problems.extend(
            f"{key} on {index}: {pattern!r} is not an SPDX identifier or glob "
            "(e.g. 'MIT', 'GPL-*', 'GPL-2.0-only WITH Classpath-exception-2.0')"
            for pattern in _as_list(value)
            if not _PATTERN.match(pattern)
        )
    for key, modes, default in (("license_unknown", UNKNOWN_MODES, "allow"),
                                ("license_unreadable", UNREADABLE_MODES, "deny")):  # fmt: skip
        value = options.get(key) or default
        if value not in modes:
            problems.append(f"{key} on {index}: {value!r} is not one of {', '.join(modes)}")
    return problems


def _matches(pattern: str, leaf: License) -> bool:
    if " WITH " in pattern:
        return fnmatch.fnmatchcase(str(leaf).lower(), pattern.lower())
    return fnmatch.fnmatchcase(leaf.id.lower(), pattern.lower())


@dataclass(frozen=True, slots=True)
class _Refusal:
    leaf: License
    deny_pattern: str | None  # None: not in license_allow

    def text(self, allow: tuple[str, ...], subject: str, *, part: bool = False) -> str:
        if self.deny_pattern is not None:
            verb = "" if part else " is denied"
            return f"{subject}{verb} by license_deny {self.deny_pattern!r}"
        return f"{subject} is not in license_allow {', '.join(allow)!r}"


def _leaf_refusal(rules: LicenseRules, leaf: License) -> _Refusal | None:
    exception_allowed = leaf.exception is not None and any(
        " WITH " in p and _matches(p, leaf) for p in rules.allow
    )
    if not exception_allowed:
        for pattern in rules.deny:
            if _matches(pattern, leaf):
                return _Refusal(leaf, pattern)
    if rules.allow and not any(_matches(p, leaf) for p in rules.allow):
        return _Refusal(leaf, None)
    return None


def _refusals(rules: LicenseRules, node: Node) -> list[_Refusal]:
    """Why ``node`` is refused (empty: allowed)."""
    if isinstance(node, License):
        refusal = _leaf_refusal(rules, node)
        return [refusal] if refusal else []
    if isinstance(node, Either):
        found = [_refusals(rules, option) for option in node.options]
        return [] if any(not f for f in found) else [r for f in found for r in f]
    assert isinstance(node, All)  # noqa: S101 - the three node types
    return [r for part in node.parts for r in _refusals(rules, part)]


def verdict(
    rules: LicenseRules,
    expression: str | None,
    *,
    pending: bool = False,
    unreadable: Sequence[str] = (),
) -> Verdict:
    """The verdict of ``rules`` on a release licensed ``expression`` (``None``: unknown);
    ``unreadable`` holds why files of it could not be read.

    >>> rules = LicenseRules(deny=("AGPL-*",))
    >>> verdict(rules, "AGPL-3.0-only").reason
    "license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*'"
    >>> verdict(rules, "AGPL-3.0-only OR MIT").allowed
    True
    >>> found = verdict(rules, "MIT", unreadable=["x.whl could not be read: links"])
    >>> found.state, found.refused
    ('unreadable', True)
    """
    if pending:
        reason = "license is not known yet (extraction pending)" if rules.active else None
        return Verdict(state="pending", refused=rules.active, reason=reason)
    found = _verdict(rules, expression)
    if not unreadable or not rules.active or found.state == "denied":
        return found
    why = "; ".join(unreadable)
    if rules.unreadable_allowed:
        reason = f"{why} (allowed by license_unreadable 'allow')"
        return Verdict(state="unreadable", refused=False, reason=reason)
    reason = f"{why}; refused unless license_unreadable and license_unknown are 'allow'"
    return Verdict(state="unreadable", refused=True, reason=reason)


def _verdict(rules: LicenseRules, expression: str | None) -> Verdict:
    node = None
    if expression is not None:
        try:
            node = parse(expression)
        except ValueError:
            node = None
    if expression is None or node is None:
        return _unknown(rules)
    refusals = _refusals(rules, node)
    if not refusals:
        return Verdict(state="allowed")
    if isinstance(node, License):
        reason = refusals[0].text(rules.allow, f"license {expression!r}")
    else:
        details = "; ".join(r.text(rules.allow, repr(str(r.leaf)), part=True) for r in refusals)
        reason = f"license {expression!r} is denied: {details}"
    return Verdict(state="denied", refused=True, reason=reason)


def _unknown(rules: LicenseRules) -> Verdict:
    if rules.unknown == "deny":
        refusal = "license is unknown, refused by license_unknown 'deny'"
        return Verdict(state="unknown", refused=True, reason=refusal)
    warning = "license is unknown (license_unknown 'warn')" if rules.unknown == "warn" else None
    return Verdict(state="unknown", reason=warning)
