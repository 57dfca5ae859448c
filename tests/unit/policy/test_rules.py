from __future__ import annotations

import pytest

from devpi_policy.core.rules import join_fragments, normalize, parse_rules
from devpi_policy.errors import InvalidRulesError


def test_specifier_fragments_join_the_previous_pattern() -> None:
    assert join_fragments(["django>=4", "<4.2", " ", "evil-*", "!=1.0"]) == [
        "django>=4,<4.2",
        "evil-*,!=1.0",
    ]


def test_parses_names_globs_and_specifiers() -> None:
    rules = parse_rules("t/i", exclude=["Evil_Pkg", "acme.*", "django>=4", "<4.2"])
    assert [p.name_glob for p in rules.exclude] == ["evil-pkg", "acme-*", "django"]
    spec = rules.exclude[2].specifier
    assert spec is not None
    assert str(spec) in {"<4.2,>=4", ">=4,<4.2"}


def test_parses_file_selectors() -> None:
    rules = parse_rules("t/i", exclude_files=["*.egg", "tag:cp3*-*-win_*"])
    assert rules.exclude_files[0].glob == "*.egg"
    assert rules.exclude_files[1].tag == ("cp3*", "*", "win_*")


def test_empty_rules() -> None:
    assert parse_rules("t/i").empty
    assert not parse_rules("t/i", exclude_files=["*.egg"]).empty


def test_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidRulesError) as info:
        parse_rules(
            "t/i",
            include=["requests>=abc"],
            exclude=["bad name!"],
            exclude_files=["tag:cp311-win", "sub/dir.whl"],
            mode="sometimes",
        )
    issues = info.value.issues
    assert len(issues) == 5
    assert "policy_include: 'requests>=abc' has an invalid version specifier '>=abc'" in issues
    assert "policy_exclude: 'bad name!' is not a project name or glob" in issues
    assert any("tag:<python>-<abi>-<platform>" in i for i in issues)
    assert any("must be a file name glob, not a path" in i for i in issues)
    assert "policy_mode: 'sometimes' is not one of enforce, dry-run" in issues


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Foo.Bar", "foo-bar"), ("foo__bar", "foo-bar"), ("ACME.*", "acme-*")],
)
def test_normalize(name: str, expected: str) -> None:
    assert normalize(name) == expected
