"""The refusal audit: rules named by reasons, rows per hour, the bounded writer queue
(with a fake store) and the SQL store on SQLite."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from devpi_foundry_common.metrics import Metrics
from devpi_policy.adapters.audit_sql import SqlAuditStore
from devpi_policy.adapters.audit_writer import AuditWriter
from devpi_policy.config import COUNTERS, GAUGES
from devpi_policy.core.audit import (
    HOUR,
    MAX_REQUESTERS,
    AuditEvent,
    AuditRow,
    Requester,
    aggregate,
    events_of,
    parse_since,
    rule_of,
)
from devpi_policy.errors import InvalidSinceError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

T0 = 1_800_000_000.0  # an hour boundary: 1800000000 / 3600 = 500000
PIP = Requester(user="anonymous", address="10.0.0.1", user_agent="pip/26.3")


def _event(at: float = T0, subject: str = "evil-1.0.tar.gz", rid: str = "r1",
           who: Requester = PIP, rule: str = "policy_exclude") -> AuditEvent:  # fmt: skip
    return AuditEvent(index="alice/dev", subject=subject, rule=rule, mode="enforce",
                      reason=f"excluded by {rule}", at=at, requester=who, node="primary n",
                      request_id=rid)  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "rule"),
    [
        ("'a 1.0' is excluded by policy_exclude 'a' on x/y", "policy_exclude"),
        ("'a.tar.gz' is excluded by policy_exclude_files '*.gz' on x", "policy_exclude_files"),
        ("'a 1.0' is not included by policy_include 'b' on x/y", "policy_include"),
        ("'a 1.0' license 'GPL-3.0' is denied by license_deny 'GPL-*' on x/y", "license_deny"),
        ("'a 1.0' is quarantined until 2026-11-27 (policy_min_age 7d on x)", "policy_min_age"),
        ("bob may not push releases of x/y out to 'u': only owners", "push_out"),
        ("'a-1.0.whl' names different releases: form 'b' '1'", "upload_naming"),
        ("'a' could not be checked on x/y: plugin error ValueError()", "plugin_error"),
        ("the policy options of x/y are invalid, so it refuses all: bad", "invalid_options"),
        ("something new", "other"),
    ],
)  # fmt: skip
def test_rule_of_names_the_option_or_the_kind(reason: str, rule: str) -> None:
    assert rule_of(reason) == rule


def test_one_event_per_rule_of_a_decision() -> None:
    reasons = ["x by policy_exclude 'a'", "y by policy_exclude 'b'", "z by license_deny 'G'"]
    events = events_of(reasons, "dry-run", template=_event())
    assert [(e.rule, e.mode, e.reason) for e in events] == [
        ("policy_exclude", "dry-run", "x by policy_exclude 'a'"),
        ("license_deny", "dry-run", "z by license_deny 'G'"),
    ]


def test_events_of_one_hour_add_up_to_one_row_and_the_next_hour_is_another() -> None:
    uv = Requester(user="alice", address="10.0.0.2", user_agent="uv/0.9")
    rows = aggregate([_event(T0, rid="a"), _event(T0 + 10, rid="b", who=uv),
                      _event(T0 + 20, rid="c"), _event(T0 + HOUR, rid="d")])  # fmt: skip
    assert [(r.key[4], r.count) for r in rows] == [(T0, 3), (T0 + HOUR, 1)]
    assert rows[0].requesters == {PIP: 2, uv: 1}
    assert [rid for rid, _ in rows[0].request_ids] == ["a", "b", "c"]
    assert (rows[0].first_at, rows[0].last_at) == (T0, T0 + 20)


def test_requesters_beyond_the_cap_are_only_counted() -> None:
    many = [Requester(user=f"u{i}", address="a", user_agent="pip") for i in range(8)]
    row = aggregate([_event(who=who) for who in many])[0]
    assert len(row.requesters) == MAX_REQUESTERS
    assert row.other_requests == 8 - MAX_REQUESTERS
    stored = AuditRow(key=row.key)
    stored.merge(row)
    stored.merge(row)
    assert stored.count == 16
    assert sum(stored.requesters.values()) + stored.other_requests == 16


def test_parse_since() -> None:
    assert parse_since("90m", T0) == T0 - 5400
    assert parse_since("7d", T0) == T0 - 7 * 86400
    assert parse_since("2027-01-15T08:00:00+00:00", 0) == parse_since("2027-01-15T08:00Z", 0)
    with pytest.raises(InvalidSinceError, match="expected a duration"):
        parse_since("yesterday", T0)


class FakeStore:
    """Records what the writer stores; ``fail`` makes the next writes raise."""

    def __init__(self) -> None:
        self.rows: list[AuditRow] = []
        self.deleted: list[tuple[str, str]] = []
        self.pruned: list[float] = []
        self.fail: Exception | None = None

    def add_rows(self, rows: Sequence[AuditRow]) -> None:
        if self.fail is not None:
            raise self.fail
        self.rows.extend(rows)

    def delete_index(self, index: str) -> int:
        self.deleted.append(("index", index))
        return 1

    def delete_user(self, user: str) -> int:
        self.deleted.append(("user", user))
        return 2

    def prune(self, before: float) -> int:
        self.pruned.append(before)
        return 0

    def query(self, **kwargs: Any) -> list[dict[str, Any]]:
        return []


def _writer(store: FakeStore | None, capacity: int = 3) -> tuple[AuditWriter, Metrics]:
    metrics = Metrics("devpi_policy", counters=COUNTERS, gauges=GAUGES)
    writer = AuditWriter(lambda _create: store, metrics, capacity=capacity,
                         retention=90 * 86400, clock=lambda: T0)  # fmt: skip
    return writer, metrics


def test_a_full_queue_drops_and_counts_and_never_blocks() -> None:
    store = FakeStore()
    writer, metrics = _writer(store, capacity=3)
    writer.record([_event(rid=str(i)) for i in range(5)])  # no thread writes: it fills up
    writer.record([_event(rid="late")])
    assert metrics.get("audit_dropped_total") == 3
    assert metrics.get("audit_recorded_total") == 3
    writer.write_queued()
    assert sum(row.count for row in store.rows) == 3


def test_a_failed_write_logs_one_line_counts_it_and_keeps_the_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.fail = OSError("disk full")
    writer, metrics = _writer(store, capacity=10)
    writer.record([_event(rid="a"), _event(rid="b")])
    with caplog.at_level(logging.ERROR, logger="devpi_policy.adapters.audit_writer"):
        writer.write_queued()
    assert [r.getMessage() for r in caplog.records] == [
        "policy audit: could not write 2 refusals: OSError: disk full"
    ]
    assert all(r.exc_info is None for r in caplog.records)  # one line, no traceback
    assert metrics.get("audit_write_errors_total") == 1
    assert store.rows == []
    store.fail = None
    writer.write_queued()  # the next cycle writes them
    assert [row.count for row in store.rows] == [2]
    assert metrics.get("audit_dropped_total") == 0


def test_deletions_and_pruning_go_through_the_thread() -> None:
    store = FakeStore()
    writer, _ = _writer(store)
    writer.record([_event()])
    writer.forget("index", "alice/gone")
    writer.forget("user", "bob")
    writer.write_queued()
    assert store.deleted == [("index", "alice/gone"), ("user", "bob")]
    writer.prune()
    assert store.pruned == [T0 - 90 * 86400]


def test_the_thread_writes_what_is_left_at_shutdown_and_stops() -> None:
    store = FakeStore()
    writer, _ = _writer(store, capacity=100)
    writer.interval = 3600  # only shutdown (or a half-full queue) wakes it
    thread = threading.Thread(target=writer.thread_run)
    writer.thread = thread  # type: ignore[attr-defined]  # devpi's thread pool sets it
    thread.start()
    writer.record([_event()])
    writer.thread_shutdown()
    assert not thread.is_alive()
    assert [row.count for row in store.rows] == [1]


def test_no_store_is_made_by_reads_or_pruning_before_a_refusal() -> None:
    opened: list[bool] = []
    metrics = Metrics("devpi_policy", counters=COUNTERS, gauges=GAUGES)
    writer = AuditWriter(opened.append, metrics, capacity=3,
                         retention=1.0)  # fmt: skip
    writer.prune()
    assert writer.reading_store() is None
    assert writer.flush(0.01) is False  # no thread runs here
    assert opened == [False, False]


def test_sql_store_adds_up_rows_finds_request_ids_deletes_and_prunes(tmp_path: Path) -> None:
    store = SqlAuditStore.from_url(f"sqlite:///{tmp_path}/audit.sqlite")
    store.add_rows(aggregate([_event(rid="a"), _event(T0 + 5, rid="b")]))
    store.add_rows(aggregate([_event(T0 + 9, rid="c"), _event(T0 + HOUR, rid="d")]))
    rows = store.query(index="alice/dev")
    assert [(r["hour"], r["count"]) for r in rows] == [(T0 + HOUR, 1), (T0, 3)]
    assert rows[1]["request_ids"] == ["c", "b", "a"]
    assert rows[1]["requesters"] == [{"user": "anonymous", "address": "10.0.0.1",
                                      "user_agent": "pip/26.3", "forwarded_for": "",
                                      "count": 3}]  # fmt: skip
    assert [r["hour"] for r in store.query(index="alice/dev", request_id="b")] == [T0]
    assert [r["hour"] for r in store.query(index="alice/dev", since=T0 + 100)] == [T0 + HOUR]
    assert store.prune(T0 + HOUR) == 1  # the first hour ended
    assert store.query(index="alice/dev", request_id="b") == []
    store.add_rows(aggregate([_event(T0 + HOUR, rid="e")]))
    store.add_rows(aggregate([replace(_event(rid="f"), index="alice_x/dev")]))
    assert store.delete_user("alice") == 1  # "alice_x" is another user (LIKE escapes _)
    assert store.query(index="alice/dev") == []
    assert len(store.query(index="alice_x/dev")) == 1
    assert store.delete_index("alice_x/dev") == 1


def test_a_new_store_adds_to_the_rows_an_earlier_one_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/audit.sqlite"
    first = SqlAuditStore.from_url(url)
    first.add_rows(aggregate([_event(rid="a")]))
    first.add_rows(aggregate([_event(T0 + 1, rid="b")]))  # from its memory of the row
    again = SqlAuditStore.from_url(url)  # a restarted server: nothing in memory
    again.add_rows(aggregate([_event(T0 + 2, rid="c")]))
    (row,) = again.query(index="alice/dev")
    assert (row["count"], row["first"], row["last"]) == (3, T0, T0 + 2)
    assert row["requesters"][0]["count"] == 3
    assert sorted(row["request_ids"]) == ["a", "b", "c"]
