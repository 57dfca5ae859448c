"""The docker backend's archive traffic and clock: what goes into a container and comes
out of it through the daemon's API, bounded, and the daemon's timestamps."""

from __future__ import annotations

import contextlib
import re
import tarfile  # noqa: TID251 - writes the worker's own input archive, reads none
import time
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.core.framing import write_frame

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path


def docker_timestamp(text: str) -> str:
    """An RFC 3339 time of the daemon's (``2026-12-07T15:55:25.312258363Z``, or with its
    zone's offset) as the ``seconds.nanoseconds`` its event filters take; one second from
    now when unreadable.

    >>> docker_timestamp("1970-01-01T00:01:40.5Z")
    '100.500000000'
    >>> docker_timestamp("2026-12-07T16:55:25.312258363+01:00")
    '1796658925.312258363'
    """
    import datetime as dt

    found = _RFC3339.fullmatch(text.strip())
    try:
        whole, digits, zone = found.groups() if found else ("", "", "")
        moment = dt.datetime.fromisoformat(whole + ("+00:00" if zone in "Zz" else zone))
    except ValueError:  # no time, or an impossible one
        return f"{time.time() + 1:.9f}"
    return f"{int(moment.timestamp())}.{(digits or '')[:9].ljust(9, '0')}"


_RFC3339: Final = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.IGNORECASE
)


def stat(api: Any, container_id: str, path: str) -> dict[str, Any] | None:
    """The daemon's stat of ``path`` in the container (``HEAD .../archive``), or ``None``."""
    from docker.utils import decode_json_header

    url = api._url("/containers/{0}/archive", container_id)  # noqa: SLF001 - no public HEAD
    response = api.head(url, params={"path": path}, timeout=120)
    if response.status_code == 404:  # noqa: PLR2004
        return None
    api._raise_for_status(response)  # noqa: SLF001
    header = response.headers.get("X-Docker-Container-Path-Stat")
    return dict(decode_json_header(header)) if header else None


class Chunks:
    """A read-only stream over the daemon's archive chunks, never more than ``cap`` bytes."""

    def __init__(self, chunks: Iterator[bytes], cap: int) -> None:
        self.chunks, self.cap, self.buffer, self.total = iter(chunks), cap, b"", 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:  # whole chunks: linear in what is read
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.total += len(chunk)
            if self.total > self.cap:
                msg = f"the build's answer is over {self.cap} bytes"
                raise OSError(msg)
            self.buffer += chunk
        size = len(self.buffer) if size < 0 else size
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def drain(self) -> None:
        """Read what is left (never more than the cap allows), then let go of it."""
        try:
            while self.total <= self.cap and (chunk := next(self.chunks, b"")):
                self.total += len(chunk)
        finally:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()


def frame_tar(path: Path, meta: dict[str, Any], files: Sequence[tuple[str, Path]]) -> int:
    """A tar holding the input frame as ``input/frame``; its size."""
    frame = path.with_suffix(".frame")
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(frame.open("xb"))
        opened = [(name, stack.enter_context(p.open("rb")), p.stat().st_size) for name, p in files]
        write_frame(out, meta, opened)
    with tarfile.open(path, "x", format=tarfile.PAX_FORMAT) as tar:
        info = tar.gettarinfo(str(frame), arcname="input/frame")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        with frame.open("rb") as stream:
            tar.addfile(info, stream)
    frame.unlink()
    return path.stat().st_size
