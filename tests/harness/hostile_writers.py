"""Writers of the zips and tars that :mod:`harness.hostile_archives` draws, and the byte-level
forgeries no writer makes: raw extended tar headers, lying xz and zip-LZMA dictionaries.
Plain functions of their arguments (no hypothesis), shared with the regression tests."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import struct
import tarfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import Final, Literal
from unittest import mock

Kind = Literal["file", "dir", "symlink", "hardlink", "fifo", "chardev"]
XZ_MAGIC: Final = b"\xfd7zXZ\x00"


@dataclass(frozen=True, slots=True)
class Entry:
    """One member as written: its name, kind, content (a link's target for links)."""

    name: str
    kind: Kind = "file"
    data: bytes = b""
    hostile: bool = False


class _SizedLZMA:
    """zipfile's LZMA member compressor with a chosen dictionary size. zipfile's own always
    uses the default 8 MiB, whose encoder takes 1.0-1.4 ms to set up per member."""

    dict_size: int = 8 * 1024 * 1024

    def __init__(self) -> None:
        self._comp: lzma.LZMACompressor | None = None

    def _start(self) -> bytes:
        # lc=3, lp=0, pb=2 in one byte ((pb * 5 + lp) * 9 + lc), as zipfile writes them
        props = bytes([(2 * 5 + 0) * 9 + 3]) + struct.pack("<I", self.dict_size)
        lzma1 = {"id": lzma.FILTER_LZMA1, "preset": 0, "dict_size": self.dict_size}
        self._comp = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[lzma1])
        return struct.pack("<BBH", 9, 4, len(props)) + props

    def compress(self, data: bytes) -> bytes:
        head = self._start() if self._comp is None else b""
        return head + self._comp.compress(data)  # type: ignore[union-attr]

    def flush(self) -> bytes:
        head = self._start() if self._comp is None else b""
        return head + self._comp.flush()  # type: ignore[union-attr]


def write_zip(items: tuple[Entry, ...], methods: list[int], lzma_dict: int | None = None) -> bytes:
    """A zip of ``items``, each member compressed with its method; LZMA members use a
    dictionary of ``lzma_dict`` bytes (``None``: zipfile's default, 8 MiB)."""
    buf = io.BytesIO()
    modes = {"file": 0o100644, "dir": 0o040755, "symlink": 0o120777, "hardlink": 0o120777,
             "fifo": 0o010644, "chardev": 0o020644}  # fmt: skip
    with contextlib.ExitStack() as stack:
        if lzma_dict is not None:
            sized = type("LZMA", (_SizedLZMA,), {"dict_size": lzma_dict})
            stack.enter_context(mock.patch.object(zipfile, "LZMACompressor", sized))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")  # duplicate names are the point
        zf = stack.enter_context(zipfile.ZipFile(buf, "w"))
        for entry, method in zip(items, methods, strict=True):
            name = entry.name + "/" if entry.kind == "dir" else entry.name
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = modes[entry.kind] << 16
            info.compress_type = method
            zf.writestr(info, entry.data)
    return buf.getvalue()


def write_tar(items: tuple[Entry, ...], fmt: int, pax: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE,
             "chardev": tarfile.CHRTYPE}  # fmt: skip
    with tarfile.open(fileobj=buf, mode="w:", format=fmt, pax_headers=pax) as tar:
        for entry in items:
            info = tarfile.TarInfo(entry.name)
            info.type = types[entry.kind]
            if entry.kind in ("symlink", "hardlink"):
                info.linkname = entry.data.decode()
            elif entry.kind == "file":
                info.size = len(entry.data)
            tar.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)
    return buf.getvalue()


def extended(kind: bytes, payload: bytes) -> bytes:
    """A raw pax (``x``) or GNU long-name (``L``) header block with ``payload``."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = kind, len(payload)
    return info.tobuf(tarfile.USTAR_FORMAT) + payload + bytes(-len(payload) % 512)


def pax_record(key: str, value: bytes) -> bytes:
    body = f" {key}=".encode() + value + b"\n"
    size = len(body) + len(str(len(body)))
    size += len(str(size)) - len(str(len(body)))
    return str(size).encode() + body


def lying_xz(data: bytes, dict_code: int) -> bytes:
    """``data`` (xz, one LZMA2 block without size fields) claiming a huge dictionary."""
    head = bytearray(data[12 : 12 + (data[12] + 1) * 4])
    if data[:6] != XZ_MAGIC or head[1] != 0 or head[2] != 0x21:
        return data
    head[4] = dict_code
    struct.pack_into("<I", head, len(head) - 4, zlib.crc32(head[:-4]))
    return data[:12] + bytes(head) + data[12 + len(head) :]


def lying_lzma_members(data: bytes) -> bytes:
    """``data`` (a zip) with every LZMA member claiming a 4 GiB dictionary."""
    out = bytearray(data)
    at = out.find(b"PK\x03\x04")
    while at >= 0 and at + 30 <= len(out):
        (method,) = struct.unpack_from("<H", out, at + 8)
        name_len, extra_len = struct.unpack_from("<HH", out, at + 26)
        props = at + 30 + name_len + extra_len
        if method == zipfile.ZIP_LZMA and props + 9 <= len(out):
            struct.pack_into("<I", out, props + 5, 0xFFFFFFFF)
        at = out.find(b"PK\x03\x04", at + 4)
    return bytes(out)


def compress(raw: bytes, how: str) -> bytes:
    if how == "gz":
        return gzip.compress(raw, compresslevel=1, mtime=0)
    if how == "bz2":
        return bz2.compress(raw, compresslevel=1)
    if how == "xz":
        return lzma.compress(raw, format=lzma.FORMAT_XZ, preset=0)
    return raw
