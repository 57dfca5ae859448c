"""The one regular file of a tar stream, read strictly and without ``tarfile``.

A container's answer comes back as the tar the Docker daemon makes of one file. The daemon
writes the headers, but a build controls the file's extended attributes, which become PAX
records, and :mod:`tarfile` has had memory and time bugs in exactly that parsing. So this
reads only what a single-file archive needs: PAX headers are skipped unread (bounded), the
one ustar header must name a regular file, its size must be within a cap, and its body is
returned as a bounded stream; anything else is a :class:`FrameError`.
"""

from __future__ import annotations

from typing import IO, Final, cast

from devpi_buildfarm.core.framing import FrameError

BLOCK: Final = 512
MAX_PAX: Final = 64 * 1024
_REGULAR: Final = (b"0", b"\0")
_PAX: Final = (b"x", b"g")


def _octal(field: bytes) -> int:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        msg = f"tar header field {field!r} is not an octal number"
        raise FrameError(msg)
    return int(text, 8)


def _exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            msg = "the tar stream ended early"
            raise FrameError(msg)
        data += chunk
    return data


class _Body:
    """The member's bytes, then end of file (never reads past them); ``readline`` looks at
    whole blocks, so a long line costs time linear in its length."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream, self.left, self.pending = stream, size, b""

    def _more(self, size: int) -> bytes:
        size = min(size, self.left)
        data = self.stream.read(size) if size else b""
        self.left -= len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        want = self.left + len(self.pending) if size < 0 else size
        data, self.pending = self.pending[:want], self.pending[want:]
        while len(data) < want and (chunk := self._more(want - len(data))):
            data += chunk
        return data

    def readline(self, limit: int = -1) -> bytes:
        """Up to and including the next newline, at most ``limit`` bytes."""
        parts, size = [], 0
        while limit < 0 or size < limit:
            block = self.pending or self._more(BLOCK * 128)
            self.pending = b""
            if not block:
                break
            cut = block.find(b"\n") + 1 or len(block)
            if limit >= 0:
                cut = min(cut, limit - size)
            parts.append(block[:cut])
            size += cut
            self.pending = block[cut:]
            if parts[-1].endswith(b"\n"):
                break
        return b"".join(parts)


def only_file(stream: IO[bytes], name: str, max_bytes: int) -> IO[bytes]:
    """The body of the tar's single regular file ``name`` (at most ``max_bytes``).

    >>> import io
    >>> head = bytearray(BLOCK); head[:6] = b"answer"; head[124:136] = b"00000000005\\0"
    >>> head[156:157] = b"0"
    >>> body = only_file(io.BytesIO(bytes(head) + b"he\\nlo" + bytes(507)), "answer", 10)
    >>> body.readline(10), body.read()
    (b'he\\n', b'lo')
    """
    for _ in range(4):  # a few PAX headers at most, then the file's own header
        header = _exactly(stream, BLOCK)
        kind, size = header[156:157], _octal(header[124:136])
        if kind in _PAX:
            if size > MAX_PAX:
                msg = f"the tar's extended header is {size} bytes, over {MAX_PAX}"
                raise FrameError(msg)
            _exactly(stream, -(-size // BLOCK) * BLOCK)  # skipped unread: nothing in it is used
            continue
        member = header[:100].rstrip(b"\0").decode("utf-8", "replace")
        if kind not in _REGULAR or member.rstrip("/") != name:
            msg = f"the answer is not a regular file named {name!r} (type {kind!r}, {member!r})"
            raise FrameError(msg)
        if size > max_bytes:
            msg = f"the answer is {size} bytes, over the limit of {max_bytes}"
            raise FrameError(msg)
        return cast("IO[bytes]", _Body(stream, size))
    msg = "too many extended headers in the tar stream"
    raise FrameError(msg)
