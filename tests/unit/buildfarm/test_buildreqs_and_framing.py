"""Requirement strings from an sdist are checked before any tool sees them; the frames
between worker and sandbox are bounded and name only plain files."""

from __future__ import annotations

import io
import json

import pytest

from devpi_buildfarm.core.buildreqs import (
    MAX_REQUIREMENTS,
    RequirementRefused,
    check_requirement,
    check_requirements,
)
from devpi_buildfarm.core.framing import FrameError, copy_exactly, read_header, write_frame

REFUSED = {
    "--index-url=http://127.0.0.1:9/evil": "looks like an option",
    "-e/tmp/x": "looks like an option",
    "-r requirements.txt": "looks like an option",
    "evil @ file:///etc/passwd": "names a URL",
    "evil @ https://example.invalid/evil.whl": "names a URL",
    "./local-dir": "is not a valid requirement",
    "/abs/path": "is not a valid requirement",
    "x y": "is not a valid requirement",
    "": "is empty",
    "a\nb": "control characters",
    "foo.tar.gz": "looks like an archive file",
    "evil.whl": "looks like an archive file",
    "x.zip": "looks like an archive file",
}


@pytest.mark.parametrize(("text", "why"), REFUSED.items(), ids=list(REFUSED))
def test_refuses_what_is_not_a_requirement_by_name(text: str, why: str) -> None:
    with pytest.raises(RequirementRefused, match=why) as info:
        check_requirement(text, "build-system.requires")
    assert repr(text) in str(info.value)  # the refusal names the string
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "normal"),
    [("setuptools >= 61", "setuptools>=61"), ("a[b]>=1", "a[b]>=1"),
     ('foo; python_version < "3"', 'foo; python_version < "3"')],
)  # fmt: skip
def test_accepts_requirements_by_name(text: str, normal: str) -> None:
    assert check_requirement(text, "x") == normal


def test_every_refusal_is_reported_together() -> None:
    with pytest.raises(RequirementRefused) as info:
        check_requirements(["ok", "-x", "y @ file:///z", 7], "get_requires_for_build_wheel")
    message = str(info.value)
    assert "'-x'" in message
    assert "'y @ file:///z'" in message
    assert "7 is not a string" in message


def test_too_many_requirements_are_refused() -> None:
    with pytest.raises(RequirementRefused, match="at most"):
        check_requirements(["a"] * (MAX_REQUIREMENTS + 1), "x")


def test_frame_round_trip() -> None:
    out = io.BytesIO()
    files = [("sdist/a-1.0.tar.gz", io.BytesIO(b"abc"), 3),
             ("wheelhouse/w-1-py3-none-any.whl", io.BytesIO(b"de"), 2)]  # fmt: skip
    write_frame(out, {"mode": "build"}, files)
    out.seek(0)
    header = read_header(out)
    assert header.files == (("sdist/a-1.0.tar.gz", 3), ("wheelhouse/w-1-py3-none-any.whl", 2))
    target = io.BytesIO()
    copy_exactly(out, target, 3, name="a")
    assert target.getvalue() == b"abc"


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b/c", "a/../b", ".hidden", ""])
def test_frames_name_only_plain_files(name: str) -> None:
    line = json.dumps({"protocol": 1, "meta": {}, "files": [[name, 1]]}).encode() + b"\n"
    with pytest.raises(FrameError, match="is not a plain"):
        read_header(io.BytesIO(line))


@pytest.mark.parametrize(
    "data",
    [b"x" * 100, b"not json\n", b'{"protocol": 2, "meta": {}, "files": []}\n',
     b'{"protocol": 1, "meta": {}, "files": [["wheel/a.whl", -1]]}\n',
     b'{"protocol": 1, "meta": [], "files": []}\n'],
    ids=["too-long", "not-json", "protocol", "size", "meta"],
)  # fmt: skip
def test_bad_headers_are_refused(data: bytes) -> None:
    with pytest.raises(FrameError):
        read_header(io.BytesIO(data), max_bytes=50)


def test_a_short_file_is_an_error() -> None:
    with pytest.raises(FrameError, match="before its declared size"):
        copy_exactly(io.BytesIO(b"ab"), io.BytesIO(), 5, name="wheel/a.whl")


def test_deeply_nested_or_newline_headers_are_frame_errors() -> None:
    with pytest.raises(FrameError):
        read_header(io.BytesIO(b"[" * 200_000 + b"\n"), max_bytes=300_000)
    line = json.dumps({"protocol": 1, "meta": {}, "files": [["wheel/x.whl\n", 1]]}).encode()
    with pytest.raises(FrameError, match="is not a plain"):
        read_header(io.BytesIO(line + b"\n"))
