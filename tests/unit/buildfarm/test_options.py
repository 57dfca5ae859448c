"""Validation of the buildfarm_* index options: every problem at once, readable."""

from __future__ import annotations

import pytest

from devpi_buildfarm.core.options import option_problems

TYPES = {"team/prod": "stage", "root/pypi": "mirror", "team/dev": "stage"}


def problems(options: dict[str, object], index_type: str = "stage") -> list[str]:
    return option_problems("team/dev", index_type, options, TYPES.get)


def test_good_options_pass() -> None:
    assert problems({"buildfarm_targets": ["cp311-manylinux_*", "cp312-win_amd64"]}) == []
    assert problems({"buildfarm_targets": "cp311-*", "buildfarm_upload_to": "team/prod"}) == []
    assert problems({"buildfarm_targets": [], "buildfarm_upload_to": ""}) == []
    assert problems({"buildfarm_upload_to": "team/dev"}) == []  # itself: the default


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"buildfarm_targets": ["cp311-plan9"]}, "'cp311-plan9' matches no known target"),
        ({"buildfarm_targets": [""]}, "'' is not a target pattern"),
        ({"buildfarm_targets": 5}, "expected a list of target patterns"),
        ({"buildfarm_upload_to": "prod"}, "'prod' is not an index name (user/index)"),
        ({"buildfarm_upload_to": "team/nope"}, "index 'team/nope' does not exist"),
        ({"buildfarm_upload_to": "root/pypi"}, "'root/pypi' is a mirror"),
        ({"buildfarm_upload_to": ["a/b"]}, "expected an index name"),
    ],
)
def test_each_problem_is_named(options: dict[str, object], message: str) -> None:
    (found,) = problems(options)
    assert message in found
    assert found.startswith(("buildfarm_targets on team/dev", "buildfarm_upload_to on team/dev"))


def test_all_problems_are_reported_together() -> None:
    found = problems({"buildfarm_targets": ["x", "y"], "buildfarm_upload_to": "root/pypi"})
    assert len(found) == 3


def test_mirrors_do_not_take_targets_yet() -> None:
    (found,) = problems({"buildfarm_targets": ["cp311-*"]}, index_type="mirror")
    assert "mirror indexes do not queue builds in this release" in found
