"""Break-glass exceptions: a project (optionally a PEP 440 specifier set) exempt from one
index's own ``policy_min_age`` and ``policy_freeze`` until a time, after which it stops
working by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from devpi_policy.core.age import format_instant, parse_instant

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

_NAME: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
MAX_REASON: Final = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionSpec:
    """``SPEC`` of ``devpi policy except``: a project and an optional specifier set."""

    project: str
    specifier: SpecifierSet | None
    text: str


def parse_exception_spec(text: str) -> ExceptionSpec:
    """``requests`` or ``requests>=2.33,<2.34`` (names normalised, PEP 440 specifiers).

    >>> parse_exception_spec("Requests==2.33.0").project
    'requests'
    """
    value = text.strip()
    match = _NAME.match(value)
    if match is None:
        msg = f"{text!r} is not a project name with an optional PEP 440 specifier"
        raise ValueError(msg)
    rest = value[match.end() :].strip()
    specifier = None
    if rest:
        try:
            specifier = SpecifierSet(rest)
        except InvalidSpecifier as exc:
            msg = f"{text!r}: {rest!r} is not a PEP 440 specifier set"
            raise ValueError(msg) from exc
    return ExceptionSpec(project=canonicalize_name(match.group()), specifier=specifier, text=value)


@dataclass(frozen=True, kw_only=True, slots=True)
class AgeException:
    """One recorded exception (``revoked_by`` set once revoked)."""

    id: int
    spec: ExceptionSpec
    reason: str
    until: datetime
    created_by: str
    created_at: datetime
    revoked_by: str | None = None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_by is None and now < self.until

    def covers(self, project: str, version: str | None) -> bool:
        """Whether the exception names this release (``version=None``: the project)."""
        if canonicalize_name(project) != self.spec.project:
            return False
        if self.spec.specifier is None:
            return True
        if version is None:
            return False
        try:
            return self.spec.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "spec": self.spec.text,
            "reason": self.reason,
            "until": format_instant(self.until),
            "created_by": self.created_by,
            "created_at": format_instant(self.created_at),
            "revoked_by": self.revoked_by,
            "revoked_at": None if self.revoked_at is None else format_instant(self.revoked_at),
            "expired": now >= self.until,
            "active": self.active(now),
        }


def from_stored(data: dict[str, Any]) -> AgeException:
    """An exception from its stored form (written by :func:`to_stored`)."""
    revoked_at = data.get("revoked_at")
    return AgeException(
        id=int(data["id"]),
        spec=parse_exception_spec(str(data["spec"])),
        reason=str(data["reason"]),
        until=parse_instant(str(data["until"])),
        created_by=str(data["created_by"]),
        created_at=parse_instant(str(data["created_at"])),
        revoked_by=data.get("revoked_by"),
        revoked_at=None if revoked_at is None else parse_instant(str(revoked_at)),
    )


def to_stored(exc: AgeException) -> dict[str, Any]:
    return {
        "id": exc.id,
        "spec": exc.spec.text,
        "reason": exc.reason,
        "until": exc.until.isoformat(),
        "created_by": exc.created_by,
        "created_at": exc.created_at.isoformat(),
        "revoked_by": exc.revoked_by,
        "revoked_at": None if exc.revoked_at is None else exc.revoked_at.isoformat(),
    }


def validate_request(spec: str, reason: str, until: str, now: datetime) -> list[str]:
    """Every problem with an exception request (empty: it may be recorded)."""
    issues = []
    try:
        parse_exception_spec(spec)
    except ValueError as exc:
        issues.append(f"spec: {exc}")
    if not reason.strip():
        issues.append("reason: a reason is required (--reason TEXT)")
    elif len(reason) > MAX_REASON:
        issues.append(f"reason: longer than {MAX_REASON} characters")
    try:
        if parse_instant(until) <= now:
            issues.append(f"until: {until!r} is not in the future")
    except ValueError as exc:
        issues.append(f"until: {exc}")
    return issues


def excepted_until(
    exceptions: Iterable[AgeException], project: str, version: str | None, now: datetime
) -> datetime | None:
    """Until when an active exception covers the release (the latest one), else ``None``."""
    found = [e.until for e in exceptions if e.active(now) and e.covers(project, version)]
    return max(found) if found else None
