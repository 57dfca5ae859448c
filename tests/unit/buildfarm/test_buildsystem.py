"""An sdist's build system, from the text of its pyproject.toml: defaults, and a clear
refusal for anything unusable."""

from __future__ import annotations

import pytest

from devpi_buildfarm.core.buildreqs import RequirementRefused
from devpi_buildfarm.core.buildsystem import (
    LEGACY_BACKEND,
    MAX_PYPROJECT,
    BuildSystemError,
    parse_build_system,
)


def test_no_pyproject_means_setuptools_legacy() -> None:
    system = parse_build_system("")
    assert (system.requires, system.backend, system.backend_path) == (
        ("setuptools>=40.8.0",), LEGACY_BACKEND, None)  # fmt: skip


def test_a_declared_backend_with_its_in_tree_path() -> None:
    system = parse_build_system(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "be"\nbackend-path = ["."]\n'
    )
    assert (system.requires, system.backend, system.backend_path) == (("hatchling",), "be", (".",))


@pytest.mark.parametrize(
    ("text", "why"),
    [("[build-system\n", "does not parse"), ("build-system = 1\n", "not a table"),
     ('[build-system]\nrequires = "setuptools"\n', "must be a list"),
     ('[build-system]\nbackend-path = "."\n', "backend-path must be a list"),
     ("#" * (MAX_PYPROJECT + 1), "larger than")],
    ids=["syntax", "not-table", "requires-string", "backend-path", "size"],
)  # fmt: skip
def test_unusable_build_systems_are_refused(text: str, why: str) -> None:
    with pytest.raises(BuildSystemError, match=why):
        parse_build_system(text)


def test_requirement_strings_are_checked() -> None:
    with pytest.raises(RequirementRefused, match="'--index-url=http://x' looks like an option"):
        parse_build_system('[build-system]\nrequires = ["--index-url=http://x"]\n')
