"""Concurrent ``+license`` and PEP 691 reads through a fake HTTP session."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from devpi_license.adapters.fetching import (
    SIMPLE_JSON,
    Answer,
    FetchError,
    fetch_hidden,
    fetch_license,
    fetch_licenses,
    fetch_project_files,
    license_url,
)
from devpi_license.core.report import Release

INDEX = "http://srv/alice/dev"


class FakeHttp:
    """Scripted answers per URL (a list is consumed one call at a time); records calls."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()
        #: set to make the first calls wait for each other (proves they run at once)
        self.barrier: threading.Barrier | None = None
        self.started = 0

    def get(self, url: str, accept: str) -> tuple[int, Any]:
        with self.lock:
            self.started += 1
            wait = self.barrier is not None and self.started <= self.barrier.parties
        if wait and self.barrier is not None:
            self.barrier.wait()
        with self.lock:
            self.calls.append((url, accept))
            self.threads.add(threading.get_ident())
            answer = self.answers.get(url, (404, {"message": "not found"}))
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeClock:
    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.time += seconds


def known(name: str, state: str = "known") -> tuple[int, Any]:
    verdict = {"state": "allowed", "refused": False, "reason": None}
    return 200, {"type": "license", "result": {"project": name, "state": state, "verdict": verdict}}


def test_license_url_quotes_its_parts() -> None:
    assert license_url(INDEX + "/", "a b", "1.0+local") == f"{INDEX}/a%20b/1.0%2Blocal/+license"


def test_every_release_is_fetched_concurrently() -> None:
    releases = [Release(name=f"p{n}", version="1.0") for n in range(20)]
    http = FakeHttp({license_url(INDEX, r.name, "1.0"): known(r.name) for r in releases})
    http.barrier = threading.Barrier(4, timeout=10)
    answers = fetch_licenses(http, INDEX, releases, clock=FakeClock())
    assert sorted(answers) == sorted(r.key for r in releases)
    assert all(a.result and a.result["state"] == "known" for a in answers.values())
    assert len(http.calls) == 20
    assert {accept for _, accept in http.calls} == {"application/json"}
    assert len(http.threads) >= 4


def test_pending_releases_are_asked_again_until_known() -> None:
    url = license_url(INDEX, "slow", "1")
    http = FakeHttp({url: [known("slow", "pending"), known("slow", "pending"), known("slow")],
                     license_url(INDEX, "fast", "1"): known("fast")})  # fmt: skip
    clock = FakeClock()
    releases = [Release(name="slow", version="1"), Release(name="fast", version="1")]
    answers = fetch_licenses(http, INDEX, releases, clock=clock)
    assert answers["slow"].result is not None
    assert answers["slow"].result["state"] == "known"
    assert clock.sleeps == [1.0, 1.0]
    assert [u for u, _ in http.calls].count(license_url(INDEX, "fast", "1")) == 1


def test_pending_retries_stop_after_the_timeout() -> None:
    http = FakeHttp({license_url(INDEX, "stuck", "1"): [known("stuck", "pending")]})
    clock = FakeClock()
    answers = fetch_licenses(
        http, INDEX, [Release(name="stuck", version="1")], pending_seconds=5, clock=clock
    )
    assert answers["stuck"].pending
    assert clock.time <= 5
    assert len(http.calls) == 6


def test_errors_become_answers_with_the_reason() -> None:
    http = FakeHttp({license_url(INDEX, "down", "1"): FetchError("could not reach it")})
    assert fetch_license(http, INDEX, "down", "1") == Answer(error="could not reach it")
    answer = fetch_license(http, INDEX, "gone", "1")
    assert answer.error == f"404 from {license_url(INDEX, 'gone', '1')}: not found"
    http.answers[license_url(INDEX, "odd", "1")] = (500, None)
    odd = license_url(INDEX, "odd", "1")
    assert fetch_license(http, INDEX, "odd", "1").error == f"500 from {odd}"


def test_project_files_come_from_the_pep691_pages() -> None:
    pages = {
        f"{INDEX}/+simple/foo-bar/": (200, {"files": [{"filename": "foo_bar-1.0.tar.gz"},
                                                      {"url": "no-name"}]}),
        f"{INDEX}/+simple/baz/": (200, {"files": [{"filename": "baz-2-py3-none-any.whl"}]}),
    }  # fmt: skip
    http = FakeHttp(pages)
    files = fetch_project_files(http, INDEX, ["Foo_Bar", "baz", "foo-bar", "gone"])
    assert files == {"baz": ["baz-2-py3-none-any.whl"], "foo-bar": ["foo_bar-1.0.tar.gz"],
                     "gone": []}  # fmt: skip
    assert {accept for _, accept in http.calls} == {SIMPLE_JSON}


def test_project_files_raise_when_the_server_is_unreachable() -> None:
    http = FakeHttp({f"{INDEX}/+simple/a/": FetchError("down")})
    with pytest.raises(FetchError, match="down"):
        fetch_project_files(http, INDEX, ["a"])


def test_hidden_versions_come_from_policy_check_newer_than_each_release() -> None:
    check = f"{INDEX}/+policy/check?spec=a&newer_than=1.0"
    hidden = [{"version": "2.0", "reasons": ["'a 2.0' is excluded by policy_exclude 'a>=2'"]}]
    http = FakeHttp({check: (200, {"result": {"hidden": hidden}}),
                     f"{INDEX}/+policy/check?spec=d": (200, {"result": {"hidden": hidden}}),
                     f"{INDEX}/+policy/check?spec=b&newer_than=3": FetchError("down")})  # fmt: skip
    found = fetch_hidden(http, INDEX, [("a", "1.0"), ("b", "3"), ("c", "1"), ("d", None)])
    assert found == [
        ["2.0: 'a 2.0' is excluded by policy_exclude 'a>=2'"],
        [],  # could not ask: nothing claimed
        [],  # 404 (no devpi_policy): nothing claimed
        ["2.0: 'a 2.0' is excluded by policy_exclude 'a>=2'"],  # every version, no newer_than
    ]
