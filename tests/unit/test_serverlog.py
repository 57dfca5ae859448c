"""The integration tier's server-log check (tests/harness/serverlog.py): what counts as a
problem, what each check reads, and how declarations match."""

from __future__ import annotations

import doctest
from typing import TYPE_CHECKING

import pytest

from harness import serverlog
from harness.serverlog import Expected, LogWatch, problems

if TYPE_CHECKING:
    from pathlib import Path

INFO = "2026-01-01 10:00:00,000 INFO  [req1] GET /+api\n"
ERROR = "2026-01-01 10:00:01,000 ERROR [NOTI] could not queue builds for x-1.0.tar.gz: boom\n"
CRITICAL = "2026-01-01 10:00:01,000 CRITI [MAIN] the end\n"
WARNING = "2026-01-01 10:00:02,000 WARNI [req2] slow\n"
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 1\n'


def test_the_module_doctests_pass() -> None:
    assert doctest.testmod(serverlog).failed == 0


def test_error_and_critical_records_are_problems(tmp_path: Path) -> None:
    found = problems(INFO + ERROR + WARNING + CRITICAL, tmp_path / "s.log")
    assert [p.text for p in found] == [ERROR.strip(), CRITICAL.strip()]


def test_a_traceback_under_any_record_is_a_problem(tmp_path: Path) -> None:
    found = problems(WARNING + TRACEBACK + INFO, tmp_path / "s.log")
    assert len(found) == 1
    assert found[0].text.startswith(WARNING.strip())
    assert found[0].text.endswith("KeyError: 1")


def test_stray_output_before_any_record_is_a_problem_when_it_holds_a_traceback(
    tmp_path: Path,
) -> None:
    assert len(problems(TRACEBACK + INFO, tmp_path / "s.log")) == 1
    assert problems("some output\n" + INFO, tmp_path / "s.log") == []


def test_each_check_reads_what_the_log_gained_since_the_last(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text(ERROR)  # before the server was watched: not this session's
    watch = LogWatch()
    watch.watch(log)
    assert watch.new_problems() == []
    with log.open("a") as f:
        f.write(INFO + ERROR)
    assert len(watch.new_problems()) == 1
    assert watch.new_problems() == []
    watch.watch(log)  # a restart appends to the same log: still read from where it was
    with log.open("a") as f:
        f.write(ERROR + ERROR.strip())  # the last record is not finished yet
    assert len(watch.new_problems()) == 1
    with log.open("a") as f:
        f.write("\n")
    assert len(watch.new_problems()) == 1


def test_declarations_excuse_matching_problems_and_must_all_appear(tmp_path: Path) -> None:
    found = problems(ERROR + CRITICAL, tmp_path / "s.log")
    expected = Expected()
    expected("could not queue builds")
    unexpected, missing = expected.verdict(found)
    assert [p.text for p in unexpected] == [CRITICAL.strip()]
    assert missing == []
    expected("never logged")
    assert expected.verdict(found)[1] == ["never logged"]


def test_collect_waits_for_a_declared_problem_logged_late(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("")
    watch = LogWatch()
    watch.watch(log)
    expected = Expected()
    expected("never logged")
    assert expected.collect(watch, wait=0.3) == []


def test_a_fixtures_standing_expectation_excuses_and_must_appear(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("")
    watch = LogWatch()
    watch.watch(log)
    with watch.expected("could not queue builds"):
        with log.open("a") as f:
            f.write(ERROR + ERROR)
        assert watch.new_problems() == []
    assert watch.standing == {}
    with pytest.raises(AssertionError, match="never logged"), watch.expected("never logged"):
        pass
    with (
        pytest.raises(AssertionError, match="CRITI"),
        watch.expected("could not queue"),
        log.open("a") as f,
    ):
        f.write(ERROR + CRITICAL)  # unread at the end of the block, and not expected


def test_devpis_record_of_an_error_answer_is_not_a_problem(tmp_path: Path) -> None:
    answer = (
        "2026-01-01 10:00:01,000 ERROR [req101] [Wtx32] while handling "
        "http://127.0.0.1:1/alice/prod/:\nno permission to submit\n"
    )
    assert problems(INFO + answer + INFO, tmp_path / "s.log") == []
    assert len(problems(answer + TRACEBACK, tmp_path / "s.log")) == 1
