"""What ``devpi build request`` accepts: requirements, requirements files, version choice."""

from __future__ import annotations

import re

import pytest
from packaging.specifiers import SpecifierSet

from devpi_buildfarm.core.requests import (
    MAX_REQUIREMENTS,
    newest_matching,
    parse_requirement,
    parse_requirements_file,
)


@pytest.mark.parametrize(
    ("text", "project", "specifier"),
    [
        ("lxml", "lxml", ""),
        ("  LXML >= 5, <6 ", "lxml", "<6,>=5"),
        ("Zope.Interface==6.0", "zope-interface", "==6.0"),
        ("numpy[extra]==2.1; python_version >= '3.10'", "numpy", "==2.1"),
    ],
)
def test_requirements_are_normalised(text: str, project: str, specifier: str) -> None:
    wanted = parse_requirement(text)
    assert (wanted.project, str(wanted.specifier)) == (project, specifier)
    assert wanted.text == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a requirement"),
        ("numpy==", "is not a requirement"),
        ("-e .", "is not a requirement"),
        ("pkg @ file:///tmp/pkg", "direct URL references cannot be built"),
    ],
)
def test_bad_requirements_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_requirement(text)


def test_requirements_files_are_read_like_pip_reads_them() -> None:
    text = "# a comment\n\nlxml>=5  # trailing comment\nnumpy \\\n  ==2.1\npyyaml#not-a-comment\n"
    with pytest.raises(ValueError, match=re.escape("reqs.txt:6: 'pyyaml#not-a-comment'")):
        parse_requirements_file(text, "reqs.txt")
    wanted = parse_requirements_file(text.replace("pyyaml#not-a-comment", "pyyaml"), "reqs.txt")
    assert [w.as_text() for w in wanted] == ["lxml>=5", "numpy==2.1", "pyyaml"]


def test_every_problem_of_a_file_is_reported_with_its_line() -> None:
    text = (
        "--index-url https://example.org/simple\nok==1\n-r other.txt\nbad>=\nx @ https://e/x.tgz\n"
    )
    with pytest.raises(ValueError, match=re.escape("r.txt:1:")) as info:
        parse_requirements_file(text, "r.txt")
    lines = str(info.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["1", "3", "4", "5"]
    assert "option '--index-url' is not supported" in lines[0]
    assert "option '-r' is not supported" in lines[1]


def test_too_many_requirements_are_refused() -> None:
    text = "".join(f"p{n}\n" for n in range(MAX_REQUIREMENTS + 1))
    with pytest.raises(ValueError, match=f"at most {MAX_REQUIREMENTS}"):
        parse_requirements_file(text)


@pytest.mark.parametrize(
    ("versions", "specifier", "expected"),
    [
        (["1.0", "1.10", "1.9"], "", "1.10"),
        (["1.0", "2.0b1"], "", "1.0"),
        (["2.0b1"], "", "2.0b1"),
        (["1.0", "2.0b1"], ">=2.0b1", "2.0b1"),
        (["1.0", "1.5", "2.0"], ">=1,<2", "1.5"),
        (["1.0.0"], "==1.0", "1.0.0"),
        (["1.0", "junk"], ">1", None),
        ([], "", None),
    ],
)
def test_newest_matching_version(versions: list[str], specifier: str, expected: str | None) -> None:
    assert newest_matching(versions, SpecifierSet(specifier)) == expected
