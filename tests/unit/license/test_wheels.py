"""Targets of a binary-only report and the releases that lack a wheel for them."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from devpi_license.core.wheels import (
    MissingWheel,
    Target,
    expand_platform,
    has_wheel,
    missing_wheels,
    parse_python_version,
)

LINUX_311 = Target(python_version=(3, 11), platforms=("manylinux_2_28_x86_64",))
TAGS = LINUX_311.tags((3, 12), ["linux_x86_64"])


def test_parse_python_version() -> None:
    assert parse_python_version(" 3.9 ") == (3, 9)


@pytest.mark.parametrize("text", ["3", "311", "2.7", "3.11.2", "py3.11", ""])
def test_parse_python_version_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected MAJOR\.MINOR"):
        parse_python_version(text)


def test_manylinux_accepts_older_glibc_levels_and_their_legacy_names() -> None:
    tags = expand_platform("manylinux_2_28_x86_64")
    assert tags[0] == "manylinux_2_28_x86_64"
    assert tags[-1] == "manylinux1_x86_64"
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64"} <= set(tags)


def test_manylinux_outside_x86_starts_at_glibc_2_17() -> None:
    assert expand_platform("manylinux_2_18_aarch64") == (
        "manylinux_2_18_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64",
    )  # fmt: skip


def test_legacy_manylinux_names_expand_like_their_glibc_level() -> None:
    assert expand_platform("manylinux2010_i686") == expand_platform("manylinux_2_12_i686")


def test_musllinux_and_macos_and_others() -> None:
    assert expand_platform("musllinux_1_1_x86_64") == (
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
    )
    assert "macosx_10_9_x86_64" in expand_platform("macosx_11_0_x86_64")
    assert expand_platform("win_amd64") == ("win_amd64",)
    assert expand_platform("manylinux_3_1_x86_64") == ("manylinux_3_1_x86_64",)


def test_own_target_adds_nothing_to_pip() -> None:
    assert not Target().binary_only
    assert Target().pip_args() == []


def test_python_version_alone_is_binary_only() -> None:
    assert Target(python_version=(3, 12)).pip_args() == [
        "--only-binary=:all:", "--python-version", "3.12",
    ]  # fmt: skip


def test_pip_gets_every_accepted_platform_once() -> None:
    target = Target(platforms=("manylinux2014_x86_64", "manylinux_2_17_x86_64"))
    args = target.pip_args()
    assert args[0] == "--only-binary=:all:"
    assert "--python-version" not in args
    platforms = args[2::2]
    assert platforms == list(expand_platform("manylinux_2_17_x86_64"))
    assert args[1::2] == ["--platform"] * len(platforms)


def test_tags_default_to_the_clients_python_and_platform() -> None:
    tags = Target().tags((3, 12), ["linux_x86_64"])
    assert Tag("cp312", "cp312", "linux_x86_64") in tags
    assert Tag("cp311", "cp311", "linux_x86_64") not in tags
    assert Tag("py3", "none", "any") in tags


@pytest.mark.parametrize(
    ("filename", "ok"),
    [
        ("a-1.0-py3-none-any.whl", True),
        ("a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
        ("a-1.0-cp38-abi3-manylinux2014_x86_64.whl", True),
        ("a-1.0-cp311-cp311-manylinux_2_31_x86_64.whl", False),  # needs a newer glibc
        ("a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", False),  # other Python
        ("a-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
        ("a-1.0-cp311-cp311-linux_x86_64.whl", False),  # not portable
        ("a-1.0-cp311-cp311-win_amd64.whl", False),
        ("a-1.0.tar.gz", False),
        ("not-a-wheel.whl", False),
    ],
)
def test_has_wheel(filename: str, ok: bool) -> None:
    assert has_wheel([filename], TAGS) is ok


def test_missing_wheels_names_every_release_without_one() -> None:
    files = {
        "pure": ["pure-1.0-py3-none-any.whl", "pure-1.0.tar.gz"],
        "native": ["native-2.0.tar.gz", "native-1.0-cp311-cp311-manylinux2014_x86_64.whl"],
        "src-only": ["src_only-0.1.tar.gz", "src_only-0.1.zip", "junk.txt"],
    }
    releases = [("pure", "1.0"), ("native", "2.0"), ("Src_Only", "0.1"), ("gone", "1")]
    assert missing_wheels(releases, files, TAGS) == [
        MissingWheel(name="native", version="2.0", files=("native-2.0.tar.gz",)),
        MissingWheel(name="Src_Only", version="0.1",
                     files=("src_only-0.1.tar.gz", "src_only-0.1.zip")),
        MissingWheel(name="gone", version="1", files=()),
    ]  # fmt: skip
