"""The byte stream between a worker and the program that builds inside the sandbox.

Every backend talks to its sandbox the same way, through two pipes (or a container's or
an SSH channel's stdin and stdout): the worker writes a *frame*, one JSON header line
naming the files that follow with their sizes, then the files' bytes; the sandbox answers
with one frame of its own (the result and at most one file, the wheel). Nothing is shared
on disk, so no path on the host is ever written by, or followed for, package code; sizes
are declared up front and every reader enforces its cap.

>>> import io
>>> out = io.BytesIO()
>>> write_frame(out, {"mode": "build"}, [("sdist/a-1.tar.gz", io.BytesIO(b"abc"), 3)])
>>> _ = out.seek(0)
>>> header = read_header(out, max_bytes=1000)
>>> header.meta, header.files
({'mode': 'build'}, (('sdist/a-1.tar.gz', 3),))
>>> out.read()
b'abc'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

PROTOCOL: Final = 1
MAX_HEADER_BYTES: Final = 1024 * 1024
MAX_FILES: Final = 1000
CHUNK: Final = 1024 * 1024
_NAME: Final = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.+-]*/)?[A-Za-z0-9_][A-Za-z0-9_.+!~-]*$")


class FrameError(ValueError):
    """A frame that is malformed or over a limit."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Header:
    """A frame's header: its metadata and the (name, size) of each file that follows."""

    meta: dict[str, Any]
    files: tuple[tuple[str, int], ...]


def check_file_name(name: object) -> str:
    """A frame's file name: ``dir/file`` of plain characters, never a path elsewhere.

    >>> check_file_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    devpi_buildfarm.core.framing.FrameError: file name '../etc/passwd' is not a plain 'dir/name'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        msg = f"file name {name!r} is not a plain 'dir/name'"
        raise FrameError(msg)
    return name


def write_frame(
    out: IO[bytes], meta: dict[str, Any], files: Iterable[tuple[str, IO[bytes], int]]
) -> None:
    """Write ``meta`` and each ``(name, stream, size)`` (exactly ``size`` bytes of it)."""
    items = list(files)
    listed = [[check_file_name(name), size] for name, _, size in items]
    header = {"protocol": PROTOCOL, "meta": meta, "files": listed}
    out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
    for name, stream, size in items:
        copy_exactly(stream, out, size, name=name)
    out.flush()


def read_header(stream: IO[bytes], *, max_bytes: int = MAX_HEADER_BYTES) -> Header:
    """The next frame's header; :class:`FrameError` when it is malformed or too long."""
    line = stream.readline(max_bytes + 1)
    if not line.endswith(b"\n"):
        what = "too long" if len(line) > max_bytes else "cut short"
        msg = f"frame header {what} ({len(line)} bytes)"
        raise FrameError(msg)
    try:
        header = json.loads(line)
    except (ValueError, RecursionError) as exc:
        msg = f"frame header is not JSON: {exc}"
        raise FrameError(msg) from None
    if not isinstance(header, dict) or header.get("protocol") != PROTOCOL:
        msg = f"frame header is not protocol {PROTOCOL}"
        raise FrameError(msg)
    meta, files = header.get("meta"), header.get("files")
    if not isinstance(meta, dict) or not isinstance(files, list) or len(files) > MAX_FILES:
        msg = "frame header has no meta object or a bad file list"
        raise FrameError(msg)
    checked = []
    for item in files:
        if not isinstance(item, list) or len(item) != 2:  # noqa: PLR2004 - (name, size)
            msg = f"frame file entry {item!r} is not [name, size]"
            raise FrameError(msg)
        name, size = check_file_name(item[0]), item[1]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            msg = f"frame file {name!r} has no valid size"
            raise FrameError(msg)
        checked.append((name, size))
    return Header(meta=meta, files=tuple(checked))


def copy_exactly(stream: IO[bytes], out: IO[bytes], size: int, *, name: str) -> None:
    """Copy the next ``size`` bytes of ``stream`` to ``out``; :class:`FrameError` if short."""
    left = size
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            msg = f"{name!r} ended {left} bytes before its declared size"
            raise FrameError(msg)
        out.write(chunk)
        left -= len(chunk)
