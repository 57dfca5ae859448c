from __future__ import annotations

import pytest

from devpi_policy.core.evaluate import check_file, check_release, split_filename
from devpi_policy.core.rules import Rules, parse_rules


def prod(**options: list[str] | str) -> Rules:
    return parse_rules("team/prod", **options)  # type: ignore[arg-type]


def test_excluded_by_glob_with_readable_reason() -> None:
    decision = check_release([prod(exclude=["evil-*"])], "evil-pkg")
    assert not decision.allowed
    assert decision.reason == "'evil-pkg' is excluded by policy_exclude 'evil-*' on team/prod"


@pytest.mark.parametrize("name", ["Evil_Pkg", "EVIL.pkg", "evil--pkg"])
def test_name_variants_do_not_bypass(name: str) -> None:
    assert not check_release([prod(exclude=["evil-pkg"])], name).allowed


def test_version_specifier_excludes_only_matching_versions() -> None:
    path = [prod(exclude=["requests<2.20"])]
    assert not check_release(path, "requests", "2.19.0").allowed
    assert check_release(path, "requests", "2.20.0").allowed
    assert check_release(path, "requests").allowed  # the project as a whole is not excluded


def test_comma_joined_specifier_is_one_pattern() -> None:
    path = [prod(exclude=["django>=4", "<4.2"])]
    assert not check_release(path, "django", "4.1").allowed
    assert check_release(path, "django", "4.2").allowed
    assert check_release(path, "django", "3.2").allowed


def test_unparseable_version_fails_closed() -> None:
    assert not check_release([prod(exclude=["requests<2.20"])], "requests", "2.19-foo!").allowed
    assert not check_release([prod(include=["requests<3"])], "requests", "2.19-foo!").allowed


def test_include_allows_only_listed_projects_and_versions() -> None:
    path = [prod(include=["acme.*", "requests<3"])]
    assert check_release(path, "acme-tools", "1.0").allowed
    assert check_release(path, "requests", "2.31.0").allowed
    assert check_release(path, "requests").allowed
    decision = check_release(path, "requests", "3.0")
    assert decision.reason == (
        "'requests 3.0' is not included by policy_include 'acme.*', 'requests<3' on team/prod"
    )
    assert not check_release(path, "other").allowed


def test_rules_of_every_index_on_the_path_apply() -> None:
    path = [parse_rules("team/dev"), prod(exclude=["evil-*"])]
    assert not check_release(path, "evil-x").allowed


def test_dry_run_records_but_allows() -> None:
    path = [parse_rules("team/prod", exclude=["evil-*"], mode="dry-run")]
    decision = check_release(path, "evil-x")
    assert decision.allowed
    assert decision.dry_run == ("'evil-x' is excluded by policy_exclude 'evil-*' on team/prod",)


def test_file_glob() -> None:
    path = [prod(exclude_files=["*.egg", "*.EXE"])]
    assert not check_file(path, "foo-1.0-py3.11.egg").allowed
    assert not check_file(path, "foo-1.0.win32.exe").allowed
    assert check_file(path, "foo-1.0.tar.gz").allowed


def test_tag_selector_needs_every_tag_to_match() -> None:
    path = [prod(exclude_files=["tag:*-*-win_*"])]
    denied = check_file(path, "foo-1.0-cp311-cp311-win_amd64.whl")
    assert denied.reason == (
        "'foo-1.0-cp311-cp311-win_amd64.whl' is excluded by policy_exclude_files "
        "'tag:*-*-win_*' on team/prod"
    )
    assert check_file(path, "foo-1.0-py3-none-any.whl").allowed
    assert check_file(path, "foo-1.0.tar.gz").allowed
    # a multi-platform wheel that also serves Linux is not refused by a Windows selector
    assert check_file(path, "foo-1.0-py3-none-win_amd64.manylinux_2_17_x86_64.whl").allowed


def test_file_check_applies_project_rules() -> None:
    path = [prod(exclude=["requests<2.20"])]
    assert not check_file(path, "requests-2.19.0-py2.py3-none-any.whl").allowed
    assert not check_file(path, "requests-2.19.0.tar.gz").allowed
    assert check_file(path, "requests-2.20.0.tar.gz").allowed


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("foo_bar-1.0-py3-none-any.whl", ("foo-bar", "1.0")),
        ("foo_bar-1.0.tar.gz", ("foo-bar", "1.0")),
        ("Foo-1.0.zip", ("foo", "1.0")),
        ("Foo-1.0.egg", ("Foo", "1.0")),
        ("strange", ("strange", None)),
    ],
)
def test_split_filename(filename: str, expected: tuple[str, str | None]) -> None:
    assert split_filename(filename)[:2] == expected
