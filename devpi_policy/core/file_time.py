"""What is known about a file's upload: its true upload time and its size, as values.

The conversions from what devpi and upstreams store (PEP 700 text, devpi's log times) and
to what PEP 691 pages serve live here; where the values come from is
adapters/upload_times.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from devpi_policy.core.age import parse_instant


@dataclass(frozen=True, kw_only=True, slots=True)
class FileTime:
    """What is known about a file: its upload time (``None``: unknown) and size."""

    uploaded: datetime | None
    upload_time: str | None  # as served (PEP 700 ``upload-time``)
    size: int | None


UNKNOWN: Final = FileTime(uploaded=None, upload_time=None, size=None)


def served_time(moment: datetime) -> str:
    """PEP 700's form.

    >>> served_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    '2026-01-02T03:04:05.000000Z'
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_upstream(row: Any) -> FileTime:
    """A stored upstream row ``[sha256, upload time text, size]`` (parts may be missing);
    a time that does not parse is unknown, never guessed.

    >>> from_upstream(["ab", "2026-01-02T03:04:05Z", 7]).uploaded.isoformat()
    '2026-01-02T03:04:05+00:00'
    >>> from_upstream(["ab", "yesterday"]) == FileTime(uploaded=None, upload_time=None, size=None)
    True
    """
    _, text, size = ([*list(row), None, None, None])[:3]
    uploaded = None
    if isinstance(text, str):
        try:
            uploaded = parse_instant(text.replace("z", "Z"))
        except ValueError:
            text = None
    return FileTime(uploaded=uploaded, upload_time=text if uploaded else None, size=size)


def from_log_time(when: Any) -> datetime | None:
    """The time of a devpi log entry (``when``: year, month, day, hour, minute, second).

    >>> from_log_time([2025, 1, 2, 3, 4, 5]).isoformat()
    '2025-01-02T03:04:05+00:00'
    >>> from_log_time("now") is None
    True
    """
    try:
        year, month, day, hour, minute, second = (int(v) for v in list(when)[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None
