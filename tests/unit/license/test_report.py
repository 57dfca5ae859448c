"""pip's installation report -> releases, dependency graph, rows, summary and exit status."""

from __future__ import annotations

from typing import Any

import pytest

from devpi_license.core.report import (
    ExitCode,
    InvalidPipReportError,
    LicenseRow,
    Release,
    dependency_graph,
    exit_code,
    newest_version,
    parse_pip_report,
    parse_release_spec,
    row_from_result,
    summarize,
)

ENVIRONMENT = {"python_version": "3.11", "sys_platform": "linux", "os_name": "posix"}


def item(name: str, version: str, *requires: str, requested: bool = False, **extra: Any) -> Any:
    metadata: dict[str, Any] = {"metadata_version": "2.1", "name": name, "version": version}
    if requires:
        metadata["requires_dist"] = list(requires)
    return {
        "download_info": {"url": f"http://x/{name}-{version}-py3-none-any.whl"},
        "is_direct": False,
        "requested": requested,
        "metadata": metadata,
        **extra,
    }


#: A pip 23 report of ``app`` with a marker that excludes lib-b and an extra that adds lib-a.
REPORT = {
    "version": "1",
    "pip_version": "23.2.1",
    "install": [
        item("App", "1.0", "lib-a>=1", 'lib-b; python_version<"3"', "lib-c[x]", requested=True),
        item("lib-c", "1.0", 'lib-a; extra == "x"', 'lib-d; extra == "y"'),
        item("lib_a", "2.0"),
        item("lib-d", "1.0"),
    ],
    "environment": ENVIRONMENT,
}


def result(state: str, refused: bool, expression: str | None = "MIT", **more: Any) -> Any:
    reason = None if state == "allowed" else f"license is {state}"
    return {"state": "known" if expression else "unknown", "expression": expression,
            "source": "License-Expression" if expression else None,
            "verdict": {"state": state, "refused": refused, "reason": reason}, **more}  # fmt: skip


def test_releases_come_sorted_by_canonical_name() -> None:
    resolution = parse_pip_report(REPORT)
    assert [(r.name, r.version) for r in resolution.releases] == [
        ("App", "1.0"), ("lib_a", "2.0"), ("lib-c", "1.0"), ("lib-d", "1.0"),
    ]  # fmt: skip
    assert [r.requested for r in resolution.releases] == [True, False, False, False]
    assert resolution.releases[1].key == "lib-a"
    assert resolution.environment["python_version"] == "3.11"


@pytest.mark.parametrize(
    "data", [{}, {"install": [{"metadata": {}}]}, {"install": None}, []], ids=str
)
def test_rejects_a_report_without_names_and_versions(data: Any) -> None:
    with pytest.raises(InvalidPipReportError, match="pip's report is not usable"):
        parse_pip_report(data)


def test_graph_follows_markers_and_asked_extras() -> None:
    graph = dependency_graph(parse_pip_report(REPORT))
    # lib-b's marker is false; lib-c[x] asks for lib-a, nobody asks lib-c[y] (lib-d)
    assert graph == {"app": ("lib-a", "lib-c"), "lib-a": (), "lib-c": ("lib-a",), "lib-d": ()}


def test_graph_keeps_edges_whose_marker_cannot_be_evaluated() -> None:
    data = {"install": [item("a", "1", 'b; python_version ~= "3"'), item("b", "1")]}
    assert dependency_graph(parse_pip_report(data))["a"] == ("b",)


def test_graph_ignores_invalid_requirements_and_unresolved_names() -> None:
    data = {"install": [item("a", "1", "not a requirement !!", "missing>=1", "a"), item("b", "1")]}
    assert dependency_graph(parse_pip_report(data))["a"] == ()


def test_row_from_an_allowed_result() -> None:
    row = row_from_result(Release(name="a", version="1"), result("allowed", False), None)
    assert row == LicenseRow(
        name="a", version="1", expression="MIT", state="known", source="License-Expression",
        verdict="allowed", refused=False,
    )  # fmt: skip


def test_row_without_a_result_is_an_error_and_refused() -> None:
    row = row_from_result(
        Release(name="a", version="1"), None, "404 from http://x: no such release"
    )
    assert (row.verdict, row.refused, row.reason) == (
        "error", True, "404 from http://x: no such release"
    )  # fmt: skip


def test_row_without_verdict_counts_as_refused() -> None:
    row = row_from_result(Release(name="a", version="1"), {"state": "pending"}, None)
    assert (row.state, row.verdict, row.refused) == ("pending", "unknown", True)


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([("allowed", False)], ExitCode.OK),
        ([("allowed", False), ("unknown", False)], ExitCode.OK),  # license_unknown = allow/warn
        ([("allowed", False), ("denied", True)], ExitCode.REFUSED),
        ([("unknown", True)], ExitCode.REFUSED),  # license_unknown = deny
        ([("pending", True)], ExitCode.REFUSED),  # still pending under rules
        ([], ExitCode.OK),
    ],
    ids=["allowed", "unknown-allowed", "denied", "unknown-denied", "pending", "empty"],
)
def test_exit_code(verdicts: list[tuple[str, bool]], code: ExitCode) -> None:
    rows = [
        row_from_result(Release(name=f"p{n}", version="1"), result(state, refused), None)
        for n, (state, refused) in enumerate(verdicts)
    ]
    assert exit_code(rows) == code


def test_summary_counts_verdicts_in_a_fixed_order() -> None:
    states = [("denied", True), ("allowed", False), ("allowed", False), ("unknown", False)]
    rows = [
        row_from_result(Release(name=f"p{n}", version="1"), result(s, r), None)
        for n, (s, r) in enumerate(states)
    ]
    rows.append(row_from_result(Release(name="x", version="1"), None, "unreachable"))
    summary = summarize(rows)
    assert summary.text == "5 packages: 2 allowed, 1 denied, 1 unknown, 1 error; 2 refused"
    assert summarize(rows[:1]).text == "1 package: 1 denied; 1 refused"
    assert summarize([]).text == "0 packages: none; 0 refused"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("foo==1.0", ("foo", "1.0")), ("foo", ("foo", None)), (" Foo.Bar == 2 ", ("Foo.Bar", "2"))],
)
def test_parse_release_spec(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_release_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "foo==", "foo>=1", "foo[x]==1", "==1"])
def test_parse_release_spec_rejects_ranges_and_garbage(spec: str) -> None:
    with pytest.raises(ValueError, match="expected PROJECT or PROJECT==VERSION"):
        parse_release_spec(spec)


def test_newest_version_prefers_final_releases() -> None:
    assert newest_version(["1.0", "1.10", "2.0a1"]) == "1.10"
    assert newest_version(["2.0a1", "1.0b1"]) == "2.0a1"
    assert newest_version({"junk": {}}) is None


def test_row_refused_only_by_dry_run_rules_would_refuse_and_passes() -> None:
    reason = "license 'AGPL-3.0-only' is denied by license_deny 'AGPL-*' on a/dev"
    verdict = {"state": "denied", "refused": False, "reason": None, "dry_run": [reason]}
    row = row_from_result(Release(name="a", version="1"), {**result("denied", False),
                                                           "verdict": verdict}, None)  # fmt: skip
    expected = ("would refuse", False, f"{reason} (dry-run)")
    assert (row.verdict, row.refused, row.reason) == expected
    assert exit_code([row]) == ExitCode.OK
    assert summarize([row]).text == "1 package: 1 would refuse; 0 refused"


def test_an_enforced_refusal_wins_over_dry_run_ones() -> None:
    verdict = {
        "state": "denied",
        "refused": True,
        "reason": "x on b/base",
        "dry_run": ["y on a/dev"],
    }
    row = row_from_result(Release(name="a", version="1"), {"verdict": verdict}, None)
    assert (row.verdict, row.refused, row.reason) == ("denied", True, "x on b/base")
