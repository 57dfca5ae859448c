"""What ``devpi license show`` and ``report`` print (no devpi involved: a fake hub)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from devpi_license.client_output import (
    Console,
    hidden_lines,
    missing_wheel_lines,
    report_json,
    show_lines,
    table_lines,
)
from devpi_license.core.report import LicenseRow, summarize
from devpi_license.core.wheels import MissingWheel

if TYPE_CHECKING:
    import pytest

RESULT = {
    "project": "foo", "version": "1.0", "index": "alice/dev", "stored_in": "root/pypi",
    "state": "known", "expression": "GPL-3.0-or-later", "source": "Classifier",
    "confidence": 0.9,
    "evidence": [
        {"file": "foo-1.0-py3-none-any.whl", "source": "Classifier",
         "value": "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
         "expression": "GPL-3.0-or-later", "confidence": 0.9, "how": "classifier table"},
        {"file": "foo-1.0.tar.gz", "source": "License", "value": "GPL", "expression": None,
         "confidence": 0.0, "how": None},
        {"source": "License-File", "value": "COPYING", "expression": None, "confidence": 0.0},
    ],
    "conflicts": ["foo-1.0.tar.gz says 'GPL'"],
    "verdict": {"state": "denied", "refused": True,
                "reason": "license 'GPL-3.0-or-later' is denied by license_deny 'GPL-*'"},
}  # fmt: skip


def test_show_prints_license_state_verdict_conflicts_and_evidence() -> None:
    assert show_lines(RESULT) == [
        "foo 1.0 on alice/dev (stored in root/pypi)",
        "  license:    GPL-3.0-or-later",
        "  state:      known (source: Classifier, confidence 0.90)",
        "  verdict:    denied: license 'GPL-3.0-or-later' is denied by license_deny 'GPL-*'",
        "  conflict:   foo-1.0.tar.gz says 'GPL'",
        "  evidence:",
        (
            "    foo-1.0-py3-none-any.whl: Classifier 'License :: OSI Approved :: GNU General"
            " Public License v3 or later (GPLv3+)' -> GPL-3.0-or-later (classifier table)"
        ),
        "    foo-1.0.tar.gz: License 'GPL'",
        "    -: License-File 'COPYING'",
    ]


def test_show_of_a_pending_release() -> None:
    verdict = {"state": "pending", "refused": True, "reason": "not read yet; rules are set"}
    result = {"project": "foo", "version": "1", "index": "a/b", "stored_in": "a/b",
              "state": "pending", "expression": None, "source": None, "evidence": [],
              "verdict": verdict}  # fmt: skip
    lines = show_lines(result)
    assert lines[0] == "foo 1 on a/b"
    assert lines[2:4] == [
        "  state:      pending (source: -)",
        "  verdict:    pending (refused): not read yet; rules are set",
    ]
    assert lines[-1] == "  evidence:   none"


ROWS = [
    LicenseRow(name="app", version="1.0", expression="MIT", state="known", verdict="allowed",
               refused=False),
    LicenseRow(name="lib-with-long-name", version="10.2", state="unknown", verdict="unknown",
               refused=False, reason="license is unknown (license_unknown 'warn')"),
    LicenseRow(name="x", version="2", expression="AGPL-3.0-only", state="known",
               verdict="denied", refused=True, reason="denied by license_deny 'AGPL-*'"),
    LicenseRow(name="y", version="3", state="pending", verdict="pending", refused=True),
]  # fmt: skip


def test_table_aligns_columns_and_gives_reasons() -> None:
    assert table_lines(ROWS) == [
        "PACKAGE             VERSION  LICENSE        VERDICT",
        "app                 1.0      MIT            allowed",
        (
            "lib-with-long-name  10.2     (unknown)      unknown: license is unknown "
            "(license_unknown 'warn')"
        ),
        "x                   2        AGPL-3.0-only  denied: denied by license_deny 'AGPL-*'",
        "y                   3        (pending)      pending (refused)",
    ]


def test_report_json_has_rows_summary_and_status() -> None:
    data = json.loads(report_json(ROWS, summarize(ROWS), index="a/b", specs=["app"], status=1))
    assert data["index"] == "a/b"
    assert data["specs"] == ["app"]
    assert data["status"] == 1
    assert data["summary"] == {"total": 4, "refused": 2,
                               "verdicts": {"allowed": 1, "denied": 1, "unknown": 1,
                                            "pending": 1}}  # fmt: skip
    assert data["packages"][2] == {
        "name": "x", "version": "2", "expression": "AGPL-3.0-only", "state": "known",
        "source": None, "verdict": "denied", "refused": True,
        "reason": "denied by license_deny 'AGPL-*'", "hidden": [],
    }  # fmt: skip


def test_missing_wheels_suggest_build_requests() -> None:
    missing = [MissingWheel(name="native", version="2.0", files=("native-2.0.tar.gz",)),
               MissingWheel(name="gone", version="1", files=())]  # fmt: skip
    assert missing_wheel_lines(missing, "Python 3.11 on manylinux_2_28_x86_64", "alice/dev") == [
        "2 release(s) of the closure have no wheel for Python 3.11 on manylinux_2_28_x86_64:",
        "  native 2.0 (has: native-2.0.tar.gz)",
        "  gone 1 (has: no files)",
        "request wheel builds from their sdists with:",
        "  devpi build request native==2.0 --index alice/dev",
        "  devpi build request gone==1 --index alice/dev",
    ]


class FakeHub:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def line(self, msg: str) -> None:
        self.said.append(("line", msg))

    def info(self, msg: str) -> None:
        self.said.append(("info", msg))

    def error(self, msg: str) -> None:
        self.said.append(("error", msg))


def test_console_uses_the_hub_unless_stdout_carries_a_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = FakeHub()
    for console in (Console(hub), Console(hub, stdout_is_document=True)):
        console.line("a")
        console.info("b")
        console.error("c")
    assert hub.said == [("line", "a"), ("info", "b"), ("error", "c")]
    out, err = capsys.readouterr()
    assert (out, err) == ("", "a\nb\nc\n")


def test_show_of_a_release_only_dry_run_rules_refuse() -> None:
    reason = "license 'GPL-3.0-or-later' is denied by license_deny 'GPL-*' on alice/dev"
    verdict = {"state": "denied", "refused": False, "reason": None, "dry_run": [reason]}
    lines = show_lines({**RESULT, "verdict": verdict})
    assert lines[3] == f"  verdict:    would refuse (dry-run, let through): {reason}"


def test_hidden_versions_are_named_per_release() -> None:
    rows = [LicenseRow(name="certifi", version="2026.1", hidden=("2026.10.19.post1: x",)),
            LicenseRow(name="idna", version="3.10")]  # fmt: skip
    assert hidden_lines(rows) == ["hidden by rules: certifi 2026.10.19.post1: x"]


def test_many_hidden_versions_are_counted_after_the_newest_three() -> None:
    hidden = tuple(f"{n}.0: excluded" for n in (5, 4, 3, 2, 1))
    assert hidden_lines([LicenseRow(name="a", version="0.1", hidden=hidden)]) == [
        "hidden by rules: a 5.0: excluded",
        "hidden by rules: a 4.0: excluded",
        "hidden by rules: a 3.0: excluded",
        "... and 2 older versions of a hidden by rules",
    ]
