"""Guards applied before :mod:`tarfile`, :mod:`zipfile` and :mod:`lzma` parse hostile bytes.

Decompressor memory: an xz stream, and a zip member compressed with LZMA, declare their
dictionary size, and liblzma allocates it before reading anything (a 1 KiB ``.tar.xz``
claiming 4 GiB allocated 4 GiB). :func:`open_xz` decompresses with a memory limit
(:mod:`lzma`'s own file class has none) and :func:`lzma_member_problem` reads a zip LZMA
member's declared dictionary before zipfile does.

Tar extended headers (PAX records, GNU long names): :mod:`tarfile` reads an extended
header whole into memory, whatever size it declares (a 20 MiB header gzips to 20 KiB); it
parses a chain of them by recursion, one call per header (a few thousand headers raise
``RecursionError``); and the PAX regexes of the Python this
runs on (3.11 before 3.11.10, CVE-2024-6232) backtrack quadratically on long runs of digits
(64 KiB of them took 11 s). :class:`BoundedTarInfo`, passed as ``tarinfo=`` to
:func:`tarfile.open` by devpi_foundry_common.archive, refuses such headers first: at most
:data:`MAX_EXTENDED_BYTES` each, at most :data:`MAX_CHAIN` in a row, and PAX records that
are well-formed ``LENGTH KEY=VALUE\\n`` lines without long digit runs. Real sdists use a
few small ones. A refusal is a :class:`tarfile.ReadError`, which the archive reader turns
into its own ``ArchiveError``.
"""

from __future__ import annotations

import _compression
import io
import lzma
import re
import struct
import tarfile  # noqa: TID251 - checks headers for devpi_foundry_common.archive, opens nothing
import zipfile  # noqa: TID251 - same
from typing import IO, Final, cast

MAX_EXTENDED_BYTES: Final = 64 * 1024
MAX_CHAIN: Final = 8
#: digits in a row inside a PAX header: tarfile's regexes cost the square of this per run
MAX_DIGITS: Final = 64
_EXTENDED: Final = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
     tarfile.GNUTYPE_LONGLINK}
)  # fmt: skip
_PAX: Final = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_LENGTH: Final = re.compile(rb"([1-9][0-9]{0,9}) ")
_DIGIT_RUN: Final = re.compile(rb"[0-9]{%d}" % (MAX_DIGITS + 1))
_CHAIN_KEY: Final = "_foundry_extended_chain"


def check_pax_records(buf: bytes) -> str | None:
    """Why ``buf`` is not a sequence of well-formed PAX records (``None``: it is).

    >>> check_pax_records(b"12 path=a/b\\n"), check_pax_records(b"99 path=a\\n")
    (None, 'a PAX record at offset 0 is cut short')
    """
    pos = 0
    while pos < len(buf):
        found = _LENGTH.match(buf, pos)
        if found is None:
            return f"a PAX record at offset {pos} has no length"
        end = pos + int(found.group(1))
        if end > len(buf):
            return f"a PAX record at offset {pos} is cut short"
        if buf[end - 1 : end] != b"\n" or b"=" not in buf[found.end() : end]:
            return f"the PAX record at offset {pos} is not 'KEY=VALUE'"
        pos = end
    if _DIGIT_RUN.search(buf):
        return f"a PAX header holds more than {MAX_DIGITS} digits in a row"
    return None


def _proc_member(info: tarfile.TarInfo, archive: tarfile.TarFile) -> tarfile.TarInfo:
    """tarfile's own dispatch to the reader of a header's type."""
    proc = tarfile.TarInfo._proc_member  # type: ignore[attr-defined]  # private, not in typeshed  # noqa: SLF001
    return cast("tarfile.TarInfo", proc(info, archive))


class BoundedTarInfo(tarfile.TarInfo):
    """A :class:`tarfile.TarInfo` that refuses oversized, chained or malformed extended
    headers before :mod:`tarfile` reads them (see the module docstring)."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        chain = getattr(archive, _CHAIN_KEY, 0)
        if self.type not in _EXTENDED:
            setattr(archive, _CHAIN_KEY, 0)
            return _proc_member(self, archive)
        problem = None
        if self.size > MAX_EXTENDED_BYTES:
            problem = f"an extended tar header of {self.size} bytes (over {MAX_EXTENDED_BYTES})"
        elif chain >= MAX_CHAIN:
            problem = f"more than {MAX_CHAIN} extended tar headers in a row"
        elif self.type in _PAX:
            assert archive.fileobj is not None  # noqa: S101 - an open archive
            start = archive.fileobj.tell()
            problem = check_pax_records(archive.fileobj.read(self.size))
            archive.fileobj.seek(start)
        if problem is not None:
            raise tarfile.ReadError(problem)
        setattr(archive, _CHAIN_KEY, chain + 1)
        return _proc_member(self, archive)


XZ_MAGIC: Final = b"\xfd7zXZ\x00"


def open_xz(fileobj: IO[bytes], memlimit: int) -> IO[bytes]:
    """A seekable reader of the xz data in ``fileobj`` that decompresses within
    ``memlimit`` bytes (over it: :class:`lzma.LZMAError`), as :class:`lzma.LZMAFile` does
    without a limit."""
    raw = _compression.DecompressReader(
        fileobj, lzma.LZMADecompressor, trailing_error=lzma.LZMAError, memlimit=memlimit
    )
    return io.BufferedReader(raw)


def lzma_member_problem(zf: zipfile.ZipFile, info: zipfile.ZipInfo, memlimit: int) -> str | None:
    """Why the LZMA member ``info`` may not be decompressed (``None``: it may): the
    dictionary its properties declare, which liblzma allocates whole, is over
    ``memlimit``."""
    if info.compress_type != zipfile.ZIP_LZMA or zf.fp is None:
        return None
    start = zf.fp.tell()
    try:
        zf.fp.seek(info.header_offset)
        local = zf.fp.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":  # noqa: PLR2004 - local header
            return "its local header is missing"
        name_len, extra_len = struct.unpack_from("<HH", local, 26)
        zf.fp.seek(info.header_offset + 30 + name_len + extra_len)
        props = zf.fp.read(9)  # version (2), properties size (2), lc/lp/pb (1), dictionary (4)
    finally:
        zf.fp.seek(start)
    if len(props) < 9:  # noqa: PLR2004 - see above
        return "its LZMA properties are cut short"
    dictionary = struct.unpack_from("<I", props, 5)[0]
    if dictionary > memlimit:
        return f"its LZMA dictionary of {dictionary} bytes is over {memlimit}"
    return None
