"""``devpi policy check`` specs and the combination of per-index reasons."""

from __future__ import annotations

import pytest

from devpi_policy.core.evaluate import decide, file_denials
from devpi_policy.core.rules import parse_rules
from devpi_policy.core.spec import CheckSpec, parse_check_spec
from devpi_policy.errors import InvalidSpecError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("requests", CheckSpec(project="requests")),
        ("Requests==2.19.0", CheckSpec(project="Requests", version="2.19.0")),
        ("requests===2.19", CheckSpec(project="requests", version="2.19")),
        (
            "Foo_Bar-1.0.tar.gz",
            CheckSpec(project="foo-bar", version="1.0", filename="Foo_Bar-1.0.tar.gz"),
        ),
        (
            "lib-2.0-cp311-cp311-win_amd64.whl",
            CheckSpec(project="lib", version="2.0", filename="lib-2.0-cp311-cp311-win_amd64.whl"),
        ),
    ],
    ids=["name", "pinned", "arbitrary-equality", "sdist", "wheel"],
)
def test_parses(text: str, expected: CheckSpec) -> None:
    assert parse_check_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "empty spec"),
        ("requests>=2", "one exact version"),
        ("requests==2.*", "one exact version"),
        ("not a spec!", "is not a requirement"),
    ],
    ids=["empty", "range", "wildcard", "garbage"],
)
def test_rejects_with_a_hint(text: str, hint: str) -> None:
    with pytest.raises(InvalidSpecError, match=hint):
        parse_check_spec(text)


def test_decide_enforces_and_records_dry_run() -> None:
    decision = decide([("enforce", ["a"]), ("dry-run", ["b"]), ("enforce", [])])
    assert decision.denials == ("a",)
    assert decision.dry_run == ("b",)
    assert not decision.allowed


def test_doc_zip_judged_by_its_project() -> None:
    rules = parse_rules("team/prod", exclude=["evil-pkg"])
    assert file_denials(rules, "evil-pkg-1.0.doc.zip") == [
        "'evil-pkg 1.0' is excluded by policy_exclude 'evil-pkg' on team/prod"
    ]


def test_unbalanced_bracket_glob_is_invalid() -> None:
    with pytest.raises(ValueError, match="not a project name or glob"):
        parse_rules("team/prod", include=["[x"])
