"""Target identifiers and the wheel tags each target accepts (packaging.tags)."""

from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.errors import InvalidTargetError


def accepts(target: str, wheel: str, policy: str | None = None) -> bool:
    _, _, _, tags = parse_wheel_filename(wheel)
    return not tags.isdisjoint(tg.accepted_tags(target, policy))


@pytest.mark.parametrize(
    ("target", "wheel", "policy"),
    [
        (
            "cp311-manylinux_x86_64",
            "x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            None,
        ),
        ("cp311-manylinux_x86_64", "x-1-cp311-cp311-manylinux1_x86_64.whl", None),
        ("cp311-manylinux_x86_64", "x-1-cp311-cp311-manylinux_2_28_x86_64.whl", "manylinux_2_28"),
        ("cp311-manylinux_x86_64", "x-1-cp37-abi3-manylinux_2_17_x86_64.whl", None),
        ("cp311-manylinux_x86_64", "x-1-py3-none-any.whl", None),
        ("cp311-manylinux_x86_64", "x-1-py2.py3-none-any.whl", None),
        ("cp311-manylinux_aarch64", "x-1-cp311-cp311-manylinux_2_17_aarch64.whl", None),
        ("cp312-musllinux_x86_64", "x-1-cp312-cp312-musllinux_1_1_x86_64.whl", None),
        ("cp312-musllinux_x86_64", "x-1-cp312-cp312-musllinux_1_2_x86_64.whl", "musllinux_1_2"),
        ("cp311-macosx_arm64", "x-1-cp311-cp311-macosx_11_0_arm64.whl", None),
        ("cp311-macosx_arm64", "x-1-cp311-cp311-macosx_10_9_universal2.whl", None),
        ("cp311-macosx_x86_64", "x-1-cp311-cp311-macosx_10_9_x86_64.whl", None),
        ("cp311-macosx_x86_64", "x-1-cp311-cp311-macosx_14_0_x86_64.whl", None),
        ("cp312-win_amd64", "x-1-cp312-cp312-win_amd64.whl", None),
        ("cp312-win_amd64", "x-1-cp38-abi3-win_amd64.whl", None),
        ("cp312-win32", "x-1-cp312-cp312-win32.whl", None),
        ("cp313t-manylinux_x86_64", "x-1-cp313-cp313t-manylinux_2_17_x86_64.whl", None),
    ],
    ids=str,
)
def test_accepts(target: str, wheel: str, policy: str | None) -> None:
    assert accepts(target, wheel, policy)


@pytest.mark.parametrize(
    ("target", "wheel", "policy", "why"),
    [
        ("cp311-manylinux_x86_64", "x-1-cp311-cp311-linux_x86_64.whl", None, "not portable"),
        (
            "cp311-manylinux_x86_64",
            "x-1-cp311-cp311-manylinux_2_34_x86_64.whl",
            "manylinux_2_28",
            "glibc too new",
        ),
        (
            "cp311-manylinux_x86_64",
            "x-1-cp312-cp312-manylinux_2_17_x86_64.whl",
            None,
            "other python",
        ),
        ("cp311-manylinux_x86_64", "x-1-cp311-cp311-musllinux_1_1_x86_64.whl", None, "musl"),
        (
            "cp311-manylinux_x86_64",
            "x-1-cp311-cp311-manylinux_2_17_aarch64.whl",
            None,
            "other arch",
        ),
        (
            "cp311-manylinux_aarch64",
            "x-1-cp311-cp311-manylinux1_x86_64.whl",
            None,
            "x86 only legacy",
        ),
        (
            "cp312-musllinux_x86_64",
            "x-1-cp312-cp312-musllinux_1_2_x86_64.whl",
            "musllinux_1_1",
            "musl too new",
        ),
        ("cp311-macosx_arm64", "x-1-cp311-cp311-macosx_10_9_x86_64.whl", None, "intel only"),
        ("cp312-win_amd64", "x-1-cp312-cp312-win32.whl", None, "32-bit"),
        (
            "cp313t-manylinux_x86_64",
            "x-1-cp38-abi3-manylinux_2_17_x86_64.whl",
            None,
            "abi3 on free-threaded",
        ),
        (
            "cp313-manylinux_x86_64",
            "x-1-cp313-cp313t-manylinux_2_17_x86_64.whl",
            None,
            "free-threaded abi",
        ),
    ],
    ids=str,
)
def test_refuses(target: str, wheel: str, policy: str | None, why: str) -> None:
    assert not accepts(target, wheel, policy), why


def test_accepted_tags_include_abi3_and_pure() -> None:
    tags = tg.accepted_tags("cp311-manylinux_x86_64", "manylinux_2_17")
    assert Tag("cp311", "abi3", "manylinux_2_17_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp311", "none", "any") in tags


def test_linux_platforms_keep_legacy_aliases() -> None:
    platforms = tg.linux_platforms("manylinux", "x86_64", (2, 28))
    assert platforms[0] == "manylinux_2_28_x86_64"
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(platforms)
    assert tg.linux_platforms("musllinux", "aarch64", (1, 1)) == [
        "musllinux_1_1_aarch64",
        "musllinux_1_0_aarch64",
    ]


def test_expand_globs() -> None:
    assert tg.expand(["cp311-*"]) == tuple(t for t in tg.KNOWN if t.startswith("cp311-"))
    assert "cp311-win_amd64" in tg.expand(["cp3*-win_amd64"])
    assert tg.expand(["cp27-*"]) == ()


def test_pattern_problems_name_each_bad_pattern() -> None:
    problems = tg.pattern_problems(["cp311-*", "cp27-*", "nonsense"], "index alice/dev")
    assert len(problems) == 2
    assert "'cp27-*' matches no known target" in problems[0]
    assert "'nonsense'" in problems[1]


@pytest.mark.parametrize("bad", ["cp311", "cp311-linux_x86_64", "pp310-manylinux_x86_64", ""])
def test_parse_target_refuses_unknown(bad: str) -> None:
    with pytest.raises(InvalidTargetError, match="unknown target"):
        tg.parse_target(bad)


@pytest.mark.parametrize("bad", ["manylinux2014", "manylinux_2", "glibc_2_28", ""])
def test_parse_policy_refuses(bad: str) -> None:
    with pytest.raises(InvalidTargetError, match="linux policy"):
        tg.parse_policy(bad)


def test_policy_of_other_family_is_refused() -> None:
    with pytest.raises(InvalidTargetError, match="does not apply"):
        tg.accepted_tags("cp311-musllinux_x86_64", "manylinux_2_28")


def test_target_properties() -> None:
    target = tg.parse_target("cp313t-win32")
    assert target.python_version == (3, 13)
    assert target.free_threaded
    assert (target.family, target.arch) == ("win", "x86")


@pytest.mark.parametrize(
    ("libc", "expected"),
    [
        (("glibc", "2.36"), ("cp311-manylinux_x86_64", "manylinux_2_36")),
        (("", ""), ("cp311-musllinux_x86_64", "musllinux_1_2")),
    ],
)
def test_host_target(libc: tuple[str, str], expected: tuple[str, str]) -> None:
    assert tg.host_target((3, 11), "x86_64", libc) == expected
