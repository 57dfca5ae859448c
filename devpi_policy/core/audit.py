"""The audit of refusals: what one refusal is, which rule made it, and how refusals of
one hour add up to one row.

A refusal (or, in ``dry-run`` mode, a would-be refusal) becomes an :class:`AuditEvent` on
the request path; a background writer merges the events it drains into
:class:`AuditRow` values, one per (index, subject, rule, mode, hour, node), and adds them
to the rows already stored (adapters/audit_sql.py). Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from devpi_policy.errors import InvalidSinceError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

AuditMode = Literal["enforce", "dry-run"]
#: Row key: (index, subject, rule, mode, hour, node).
RowKey = tuple[str, str, str, str, int, str]
HOUR: Final = 3600
#: distinct requesters kept per row (more are only counted)
MAX_REQUESTERS: Final = 5
#: the longest reason, user agent or subject kept (they are user-controlled)
MAX_TEXT: Final = 500

_OPTION: Final = re.compile(r"\b((?:policy|license)_[a-z_]+)\b")
#: rules named by a phrase instead of an option (checked in order, on lower-case text)
_PHRASES: Final = (
    ("push releases of", "push_out"),
    ("names different releases", "upload_naming"),
    ("plugin error", "plugin_error"),
    ("policy options of", "invalid_options"),
    ("license", "license"),
)


def rule_of(reason: str) -> str:
    """The rule a refusal's reason names: the index option it quotes, else a fixed name.

    >>> rule_of("'evil 1.0' is excluded by policy_exclude 'evil' on root/dev")
    'policy_exclude'
    >>> rule_of("alice may not push releases of a/b out to 'x': this server lets nobody")
    'push_out'
    >>> rule_of("something new")
    'other'
    """
    found = _OPTION.search(reason)
    if found:
        return found.group(1)
    lowered = reason.lower()
    return next((rule for phrase, rule in _PHRASES if phrase in lowered), "other")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters (marked with ``...``)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, kw_only=True, slots=True)
class Requester:
    """Who asked: the user (``anonymous`` without credentials), address and User-Agent."""

    user: str
    address: str
    user_agent: str
    forwarded_for: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEvent:
    """One refusal by one rule, as the request path saw it."""

    index: str
    subject: str
    rule: str
    mode: AuditMode
    reason: str
    at: float
    requester: Requester
    node: str
    request_id: str

    @property
    def key(self) -> RowKey:
        hour = int(self.at // HOUR) * HOUR
        return (self.index, self.subject, self.rule, self.mode, hour, self.node)


def events_of(reasons: Iterable[str], mode: AuditMode, *, template: AuditEvent) -> list[AuditEvent]:
    """One event per distinct rule among ``reasons`` (a reason names one rule)."""
    by_rule: dict[str, str] = {}
    for reason in reasons:
        by_rule.setdefault(rule_of(reason), reason)
    return [
        AuditEvent(
            index=template.index,
            subject=template.subject,
            rule=rule,
            mode=mode,
            reason=clip(reason),
            at=template.at,
            requester=template.requester,
            node=template.node,
            request_id=template.request_id,
        )
        for rule, reason in by_rule.items()
    ]


@dataclass(kw_only=True, slots=True)
class AuditRow:
    """The refusals of one key: how many, when, why (the last reason) and by whom."""

    key: RowKey
    count: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    reason: str = ""
    #: requester -> refusals, at most MAX_REQUESTERS of them
    requesters: dict[Requester, int] = field(default_factory=dict)
    #: refusals of requesters beyond MAX_REQUESTERS
    other_requests: int = 0
    request_ids: list[tuple[str, float]] = field(default_factory=list)

    def add(self, event: AuditEvent) -> None:
        """Count ``event`` (of this row's key) in."""
        self.first_at = event.at if not self.count else min(self.first_at, event.at)
        self.last_at = max(self.last_at, event.at)
        self.count += 1
        self.reason = event.reason
        self.request_ids.append((event.request_id, event.at))
        who = event.requester
        if who in self.requesters or len(self.requesters) < MAX_REQUESTERS:
            self.requesters[who] = self.requesters.get(who, 0) + 1
        else:
            self.other_requests += 1

    def merge(self, newer: AuditRow) -> None:
        """Add the counts of ``newer`` (same key, written later) to this stored row."""
        self.first_at = min(self.first_at, newer.first_at) if self.count else newer.first_at
        self.last_at = max(self.last_at, newer.last_at)
        self.count += newer.count
        self.reason = newer.reason
        self.other_requests += newer.other_requests
        self.request_ids.extend(newer.request_ids)
        for who, count in newer.requesters.items():
            if who in self.requesters or len(self.requesters) < MAX_REQUESTERS:
                self.requesters[who] = self.requesters.get(who, 0) + count
            else:
                self.other_requests += count


def aggregate(events: Iterable[AuditEvent]) -> list[AuditRow]:
    """The rows ``events`` add up to, one per key, in the order keys first appear."""
    rows: dict[RowKey, AuditRow] = {}
    for event in events:
        row = rows.get(event.key)
        if row is None:
            row = rows[event.key] = AuditRow(key=event.key)
        row.add(event)
    return list(rows.values())


class AuditStore(Protocol):
    """Where audit rows are kept (adapters/audit_sql.py; a fake in unit tests)."""

    def add_rows(self, rows: Sequence[AuditRow]) -> None:
        """Add ``rows`` to the stored rows of the same keys (or store them)."""

    def delete_index(self, index: str) -> int:
        """Forget every row of ``index``; how many rows went."""

    def delete_user(self, user: str) -> int:
        """Forget every row of every index of ``user``; how many rows went."""

    def prune(self, before: float) -> int:
        """Forget rows whose hour ended before ``before``; how many went."""

    def query(
        self, *, index: str, since: float | None = None, request_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``index`` (last refusal at or after ``since``; counting the request
        ``request_id``), newest hour first, as the audit's JSON shows them."""


_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration back from ``now`` (``90m``, ``24h``, ``7d``, ``2w``) or an
    RFC 3339 / ISO 8601 time (UTC when it has no offset), as seconds since the epoch.

    >>> parse_since("2h", 10000.0)
    2800.0
    >>> parse_since("1970-01-01T01:00:00Z", 0.0)
    3600.0
    """
    found = _DURATION.match(text)
    if found:
        return now - float(found.group(1)) * _UNIT[found.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = (
            f"since {text!r}: expected a duration (90m, 24h, 7d, 2w) or a time (2026-01-31T12:00Z)"
        )
        raise InvalidSinceError(msg) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
