"""Quarantine of new releases: ``policy_min_age``, ``policy_freeze``, ``policy_unknown_age``.

A file is judged by its true upload time (upstream's PEP 700 ``upload-time`` for mirrors,
the first ``upload`` log entry for private files). Every verdict says when it may change
(``changes_at``): a quarantined file becomes available by itself at that moment, so a
caller that memoises a verdict must drop it then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

UnknownAge = Literal["deny", "allow"]
UNKNOWN_AGE: Final[tuple[UnknownAge, ...]] = ("deny", "allow")
_SHORT: Final = re.compile(r"(\d+)([wdhms])")
_ISO: Final = re.compile(
    r"P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?"
)
_UNITS: Final = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """A minimum age: ``7d``, ``36h``, ``1d12h``, ``90m``, or ISO 8601 ``P7D``/``PT36H``.

    >>> parse_duration("7d"), parse_duration("P1DT12H"), parse_duration("1d12h")
    (datetime.timedelta(days=7), datetime.timedelta(days=1, seconds=43200), \
datetime.timedelta(days=1, seconds=43200))
    """
    value = text.strip()
    iso = _ISO.fullmatch(value.upper())
    if iso is not None and value.upper() not in ("P", "PT") and not value.upper().endswith("T"):
        parts = {_UNITS[k]: int(v) for k, v in iso.groupdict().items() if v is not None}
        if parts:
            return timedelta(**parts)
    pieces = _SHORT.findall(value.lower())
    if pieces and "".join(n + u for n, u in pieces) == value.lower():
        total = timedelta()
        for number, unit in pieces:
            total += timedelta(**{_UNITS[unit]: int(number)})
        return total
    msg = f"{text!r} is not a duration (e.g. 7d, 36h, P7D)"
    raise ValueError(msg)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 date and time with its offset (``2026-01-31T00:00:00Z``), as UTC.

    >>> parse_instant("2026-01-31T01:00:00+01:00")
    datetime.datetime(2026, 1, 31, 0, 0, tzinfo=datetime.timezone.utc)
    """
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"{text!r} is not an RFC 3339 time (e.g. 2026-01-31T00:00:00Z)"
        raise ValueError(msg) from exc
    if found.tzinfo is None:
        msg = f"{text!r} has no UTC offset (add Z or +HH:MM)"
        raise ValueError(msg)
    return found.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """``2026-11-27T10:00:05Z``: how reasons and listings show a time.

    >>> format_instant(datetime(2026, 11, 27, 10, 0, 5, 999, tzinfo=UTC))
    '2026-11-27T10:00:05Z'
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True, slots=True)
class AgeRules:
    """The quarantine options of one index (``None``: that option is not set)."""

    index: str
    min_age: timedelta | None = None
    min_age_text: str = ""
    freeze: datetime | None = None
    freeze_text: str = ""
    unknown: UnknownAge = "deny"

    @property
    def empty(self) -> bool:
        return self.min_age is None and self.freeze is None


def parse_age_rules(
    index: str, *, min_age: str, freeze: str, unknown: str
) -> tuple[AgeRules, list[str]]:
    """The rules, and every problem with the options (problems leave that option unset)."""
    issues = []
    duration = instant = None
    if min_age.strip():
        try:
            duration = parse_duration(min_age)
        except ValueError as exc:
            issues.append(f"policy_min_age: {exc}")
    if freeze.strip():
        try:
            instant = parse_instant(freeze)
        except ValueError as exc:
            issues.append(f"policy_freeze: {exc}")
    mode: UnknownAge = "deny"
    if unknown in UNKNOWN_AGE:
        mode = "allow" if unknown == "allow" else "deny"
    else:
        issues.append(f"policy_unknown_age: {unknown!r} is not one of deny, allow")
    rules = AgeRules(
        index=index,
        min_age=duration,
        min_age_text=min_age.strip(),
        freeze=instant,
        freeze_text=freeze.strip(),
        unknown=mode,
    )
    return rules, issues


@dataclass(frozen=True, kw_only=True, slots=True)
class AgeVerdict:
    """Reasons to refuse (empty: allowed), when the file becomes available (if it will by
    itself), and when this verdict may change (``None``: never by time alone)."""

    reasons: tuple[str, ...] = ()
    available_at: datetime | None = None
    changes_at: datetime | None = None


def judge_age(
    rules: AgeRules,
    label: str,
    uploaded: datetime | None,
    now: datetime,
    *,
    excepted_until: datetime | None = None,
) -> AgeVerdict:
    """Whether ``label`` (a file or a release), uploaded at ``uploaded``, may be served now.

    ``excepted_until``: an active break-glass exception covers it until then.
    """
    if rules.empty:
        return AgeVerdict()
    if excepted_until is not None and now < excepted_until:
        return AgeVerdict(changes_at=excepted_until)
    hint = "; see devpi policy except"
    if uploaded is None:
        if rules.unknown == "allow":
            return AgeVerdict()
        reason = f"{label} has no known upload time (policy_unknown_age deny on {rules.index})"
        return AgeVerdict(reasons=(reason + hint,))
    reasons = []
    available = None
    if rules.freeze is not None and uploaded > rules.freeze:
        reasons.append(
            f"{label} was uploaded {format_instant(uploaded)}, after the freeze "
            f"(policy_freeze {rules.freeze_text} on {rules.index}){hint}"
        )
    if rules.min_age is not None and uploaded + rules.min_age > now:
        available = uploaded + rules.min_age
        reasons.append(
            f"{label} is quarantined until {format_instant(available)} "
            f"(policy_min_age {rules.min_age_text} on {rules.index}){hint}"
        )
    changes = available if available is not None and len(reasons) == 1 else None
    return AgeVerdict(reasons=tuple(reasons), available_at=changes, changes_at=changes)
