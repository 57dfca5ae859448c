"""Quarantine rules (core/age.py) and break-glass exceptions (core/exceptions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devpi_policy.core.age import (
    AgeRules,
    format_instant,
    judge_age,
    parse_age_rules,
    parse_duration,
    parse_instant,
)
from devpi_policy.core.exceptions import (
    AgeException,
    excepted_until,
    from_stored,
    parse_exception_spec,
    to_stored,
    validate_request,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WEEK = AgeRules(index="root/pypi", min_age=timedelta(days=7), min_age_text="7d")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("P7D", timedelta(days=7)),
        ("PT36H", timedelta(hours=36)),
        ("P1W", timedelta(weeks=1)),
        ("p1dt1h", timedelta(days=1, hours=1)),
    ],
)
def test_parses_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "P", "PT", "P1DT", "-1d", "7d!", "1.5d"])
def test_rejects_malformed_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_instants_need_an_offset() -> None:
    assert parse_instant("2026-01-31T00:00:00Z") == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2026-01-31T00:00:00")
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_instant("yesterday")


def test_option_problems_are_all_reported() -> None:
    rules, issues = parse_age_rules("team/x", min_age="7 days", freeze="soon", unknown="maybe")
    assert rules.empty
    assert [i.split(":")[0] for i in issues] == [
        "policy_min_age",
        "policy_freeze",
        "policy_unknown_age",
    ]


def test_young_file_is_quarantined_until_it_is_old_enough() -> None:
    uploaded = NOW - timedelta(hours=1)
    verdict = judge_age(WEEK, "requests 2.33.0", uploaded, NOW)
    until = uploaded + timedelta(days=7)
    assert verdict.reasons == (
        (
            f"requests 2.33.0 is quarantined until {format_instant(until)} "
            "(policy_min_age 7d on root/pypi); see devpi policy except"
        ),
    )
    assert verdict.changes_at == until
    assert judge_age(WEEK, "requests 2.33.0", uploaded, until).reasons == ()


def test_old_file_is_served_and_the_verdict_never_changes_by_time() -> None:
    verdict = judge_age(WEEK, "x 1.0", NOW - timedelta(days=8), NOW)
    assert verdict.reasons == ()
    assert verdict.changes_at is None


def test_freeze_refuses_what_came_after_it() -> None:
    rules, _ = parse_age_rules("r/f", min_age="", freeze="2026-11-01T00:00:00Z", unknown="deny")
    assert judge_age(rules, "x 1.0", datetime(2026, 10, 31, tzinfo=UTC), NOW).reasons == ()
    reasons = judge_age(rules, "x 2.0", datetime(2026, 11, 2, tzinfo=UTC), NOW).reasons
    assert reasons[0].startswith("x 2.0 was uploaded 2026-11-02T00:00:00Z, after the freeze")


@pytest.mark.parametrize(("unknown", "refused"), [("deny", True), ("allow", False)])
def test_unknown_upload_time(unknown: str, refused: bool) -> None:
    rules, _ = parse_age_rules("r/m", min_age="1d", freeze="", unknown=unknown)
    reasons = judge_age(rules, "x 1.0", None, NOW).reasons
    assert bool(reasons) is refused
    if refused:
        assert "has no known upload time (policy_unknown_age deny on r/m)" in reasons[0]


def test_exception_lifts_until_it_expires() -> None:
    uploaded = NOW - timedelta(hours=1)
    until = NOW + timedelta(hours=2)
    verdict = judge_age(WEEK, "x 1.0", uploaded, NOW, excepted_until=until)
    assert verdict.reasons == ()
    assert verdict.changes_at == until
    assert judge_age(WEEK, "x 1.0", uploaded, until, excepted_until=until).reasons


def _exception(spec: str, **kw: object) -> AgeException:
    fields: dict[str, object] = {
        "id": 1, "spec": parse_exception_spec(spec), "reason": "hotfix",
        "until": NOW + timedelta(hours=1), "created_by": "root", "created_at": NOW,
    }  # fmt: skip
    fields.update(kw)
    return AgeException(**fields)  # type: ignore[arg-type]


def test_exception_matches_project_and_specifier() -> None:
    exc = _exception("Requests>=2.33,<2.34")
    assert exc.covers("requests", "2.33.1")
    assert not exc.covers("requests", "2.34")
    assert not exc.covers("requests", None)
    assert not exc.covers("other", "2.33.1")
    assert _exception("requests").covers("REQUESTS", None)


def test_expired_and_revoked_exceptions_cover_nothing() -> None:
    expired = _exception("x", until=NOW)
    revoked = _exception("x", revoked_by="root", revoked_at=NOW)
    assert excepted_until([expired, revoked], "x", "1.0", NOW) is None
    live = _exception("x", id=3)
    assert excepted_until([expired, live], "x", "1.0", NOW) == live.until


def test_exceptions_round_trip_through_storage() -> None:
    exc = _exception("x==1.0", revoked_by="alice", revoked_at=NOW)
    assert from_stored(to_stored(exc)) == exc
    shown = exc.as_json(NOW + timedelta(hours=2))
    assert shown["expired"] is True
    assert shown["active"] is False


@pytest.mark.parametrize(
    ("spec", "reason", "until", "problem"),
    [
        ("bad name", "r", "2026-12-01T00:00:00Z", "spec:"),
        ("x>=<1", "r", "2026-12-01T00:00:00Z", "spec:"),
        ("x", " ", "2026-12-01T00:00:00Z", "reason:"),
        ("x", "r" * 501, "2026-12-01T00:00:00Z", "reason:"),
        ("x", "r", "2026-11-01T00:00:00Z", "not in the future"),
        ("x", "r", "tomorrow", "until:"),
    ],
)
def test_malformed_exception_requests(spec: str, reason: str, until: str, problem: str) -> None:
    issues = validate_request(spec, reason, until, NOW)
    assert len(issues) == 1
    assert problem in issues[0]


def test_valid_exception_request() -> None:
    assert validate_request("requests==2.33.0", "hotfix", "2026-12-01T00:00:00Z", NOW) == []
