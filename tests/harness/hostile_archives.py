"""Hypothesis strategies for hostile sdists and wheels: random and mutated zips and tars.

An :class:`Built` archive is made from a model (its :class:`Entry` list) with real
``zipfile``/``tarfile`` writers, then optionally tampered with: bombs, nested archives,
links and devices, ``..``, absolute and control-character names, duplicates, huge and
chained extended headers, bad name encodings, bad declared sizes, encryption flags,
unsupported methods, a lying xz dictionary size, truncation and flipped bytes.
:meth:`Built.expected` says what a correct bounded reader returns for an untampered one
(``None``: it must refuse it); a tampered one must be refused or read without any other
exception. Used by tests/unit/fuzz (a small fixed budget in the unit tier, ``tox -e fuzz``
for the large one).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final, Literal

from hypothesis import strategies as st

if TYPE_CHECKING:
    from devpi_foundry_common.archive import Limits

Kind = Literal["file", "dir", "symlink", "hardlink", "fifo", "chardev"]
Container = Literal["zip", "tar"]

#: names a bounded reader must refuse (each for a reason of its own)
HOSTILE_NAMES: Final = (
    "../evil.py", "pkg-1.0/../../evil.py", "/etc/passwd", "C:/evil.py", "c:evil.py",
    "pkg-1.0\\evil.py", "pkg-1.0/evil\x1b.py", "pkg-1.0/a\x7f", "pkg-1.0/\x01", "..",
    "pkg-1.0/..", "//server/share",
)  # fmt: skip
_SEGMENT: Final = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_-.éü"), min_size=1, max_size=40
).filter(lambda s: s not in (".", ".."))
XZ_MAGIC: Final = b"\xfd7zXZ\x00"
#: sizes of bombs and huge headers: each power of two is as likely (large ones are slow)
_KINDS: Final[st.SearchStrategy[Kind]] = st.sampled_from(
    ["file"] * 6 + ["dir", "symlink", "hardlink", "fifo", "chardev"]
)
_SIZES: Final = st.integers(min_value=10, max_value=20).map(lambda bits: 2**bits + 1)


@dataclass(frozen=True, slots=True)
class Entry:
    """One member as written: its name, kind, content (a link's target for links)."""

    name: str
    kind: Kind = "file"
    data: bytes = b""
    hostile: bool = False


@dataclass(frozen=True, slots=True)
class Built:
    """An archive's file name and bytes, the model it was made from, and whether its bytes
    were tampered with after writing (then nothing is expected but a clean refusal)."""

    filename: str
    data: bytes
    entries: tuple[Entry, ...]
    tampered: tuple[str, ...] = ()
    container: Container = "zip"
    #: the core metadata written into it (distributions() only)
    meta: bytes = b""

    def __repr__(self) -> str:  # the bytes would make hypothesis's report megabytes long
        names = [(e.name[:60], e.kind, len(e.data), e.hostile) for e in self.entries]
        return (f"Built({self.filename!r}, {len(self.data)} bytes, {names}, {self.tampered}, "
                f"{self.container})")  # fmt: skip

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:  # hypothesis's printer
        printer.text(repr(self))  # type: ignore[attr-defined]

    @property
    def labelled(self) -> bool:
        """Whether the file name says what the container is (a tar named ``.whl`` may be
        read as a zip: one whose data holds a zip's end record is an empty zip)."""
        return self.filename.endswith(_SUFFIXES[self.container])

    def expected(self, limits: Limits) -> dict[str, bytes] | None:
        """The regular files a correct reader returns, ``None`` when it must refuse."""
        if self.tampered or not self.labelled:
            return None
        files: dict[str, bytes] = {}
        total = 0
        for count, entry in enumerate(self.entries, start=1):
            if entry.hostile or entry.kind not in ("file", "dir") or count > limits.max_members:
                return None
            if entry.kind == "dir":
                continue
            name = entry.name.removeprefix("./")
            if name in files or len(entry.data) > limits.max_member_bytes:
                return None
            total += len(entry.data)
            if total > limits.max_total_bytes:
                return None
            files[name] = entry.data
        folders = {e.name.removeprefix("./") for e in self.entries if e.kind == "dir"}
        if any(folder in files for name in files for folder in _folders(name)) or (
            folders & set(files)
        ):
            return None  # a file and a folder of the same name
        ratio_over = total / max(len(self.data), 1) > limits.max_ratio
        return None if ratio_over and total > 1024 * 1024 else files


def _folders(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:depth]) for depth in range(1, len(parts))]


_SUFFIXES: Final = {"zip": (".whl", ".zip"), "tar": (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")}


@st.composite
def safe_names(draw: st.DrawFn, top: str = "pkg-1.0") -> str:
    parts = draw(st.lists(_SEGMENT, min_size=1, max_size=4))
    prefix = draw(st.sampled_from(["", "", "", "./"]))
    return prefix + "/".join([top, *parts])


@st.composite
def contents(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Small bytes, text, a bomb of zeros (up to 1 MiB) or a nested archive."""
    choice = draw(st.sampled_from(["bytes"] * 10 + ["text"] * 6 + ["bomb", "nested"]))
    if choice == "bomb":
        return bytes(draw(_SIZES))
    if choice == "nested" and depth < 2:
        return draw(archives(depth=depth + 1)).data
    if choice == "text":
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    return draw(st.binary(max_size=600))


@st.composite
def entries(draw: st.DrawFn, depth: int = 0, max_size: int = 8) -> tuple[Entry, ...]:
    """A member list: mostly safe files, some directories, links, devices, hostile and
    duplicate names."""
    found: list[Entry] = []
    for _ in range(draw(st.integers(min_value=0, max_value=max_size))):
        kind: Kind = draw(_KINDS)
        roll = draw(st.integers(min_value=0, max_value=9))
        if roll == 0:
            entry = Entry(draw(st.sampled_from(HOSTILE_NAMES)), kind, hostile=True)
        elif roll == 1 and found:
            entry = Entry(draw(st.sampled_from(found)).name, kind)  # a duplicate name
        else:
            entry = Entry(draw(safe_names()), kind)
        if kind == "file":
            entry = replace(entry, data=draw(contents(depth)))
        elif kind in ("symlink", "hardlink"):
            entry = replace(entry, data=draw(st.sampled_from((*HOSTILE_NAMES, "x"))).encode())
        found.append(entry)
    return tuple(found)


def write_zip(items: tuple[Entry, ...], methods: list[int]) -> bytes:
    buf = io.BytesIO()
    modes = {"file": 0o100644, "dir": 0o040755, "symlink": 0o120777, "hardlink": 0o120777,
             "fifo": 0o010644, "chardev": 0o020644}  # fmt: skip
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are the point
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


def _extended(kind: bytes, payload: bytes) -> bytes:
    """A raw pax (``x``) or GNU long-name (``L``) header block with ``payload``."""
    info = tarfile.TarInfo("././@LongLink")
    info.type, info.size = kind, len(payload)
    return info.tobuf(tarfile.USTAR_FORMAT) + payload + bytes(-len(payload) % 512)


def _pax_record(key: str, value: bytes) -> bytes:
    body = f" {key}=".encode() + value + b"\n"
    size = len(body) + len(str(len(body)))
    size += len(str(size)) - len(str(len(body)))
    return str(size).encode() + body


TAR_TAMPERING: Final = ("huge-pax", "digits-pax", "pax-chain", "gnu-long", "size-field",
                        "bad-encoding", "garbage-pax")  # fmt: skip
ZIP_TAMPERING: Final = ("declared-size", "method", "encrypted", "bad-encoding", "name-mismatch",
                        "crc", "lzma-dictionary")  # fmt: skip
_METHODS: Final = st.sampled_from(
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)


@st.composite
def tar_tamper(draw: st.DrawFn, raw: bytes) -> tuple[bytes, str | None]:  # noqa: PLR0911 - one per way
    """The uncompressed tar, with at most one header-level mutation."""
    what = draw(st.sampled_from(["none"] * 5 + list(TAR_TAMPERING)))
    if what == "none":
        return raw, None
    if what == "huge-pax":  # an extended header far over any sane size, compressing to little
        return _extended(b"x", _pax_record("comment", bytes(draw(_SIZES)))) + raw, what
    if what == "digits-pax":  # the pax regexes of Python < 3.11.10 backtrack on digit runs
        return _extended(b"x", _pax_record("path", b"1" * draw(_SIZES))) + raw, what
    if what == "garbage-pax":
        return _extended(b"x", draw(st.binary(max_size=2000))) + raw, what
    if what == "pax-chain":  # every extended header recurses into the next one
        count = draw(st.integers(min_value=2, max_value=3000))
        return _extended(b"x", _pax_record("comment", b"c")) * count + raw, what
    if what == "gnu-long":
        return _extended(b"L", b"a" * draw(_SIZES)) + raw, what
    if what == "size-field" and len(raw) >= 512:
        field = draw(st.sampled_from([b"77777777777\0", b"\x80" + bytes(11), b"xyz\0" * 3,
                                      b"00000000001\0", b"\xff" * 12]))  # fmt: skip
        block = draw(st.integers(min_value=0, max_value=len(raw) // 512 - 1)) * 512
        return raw[: block + 124] + field + raw[block + 136 :], what
    if what == "bad-encoding" and "é".encode() in raw:
        return raw.replace("é".encode(), b"\xff\xfe", 1), what
    return raw, None


@st.composite
def zip_tamper(draw: st.DrawFn, data: bytes) -> tuple[bytes, str | None]:
    """The written zip, with at most one mutation of its central directory."""
    what = draw(st.sampled_from(["none"] * 5 + list(ZIP_TAMPERING)))
    central = data.find(b"PK\x01\x02")
    if what == "none" or central < 0:
        return data, None
    if what == "lzma-dictionary":
        return _lying_lzma_members(data), what
    entry = bytearray(data[central : central + 46])
    if what == "declared-size":  # a bomb that claims to be small, or a file that lies
        struct.pack_into("<I", entry, 24, draw(st.integers(min_value=0, max_value=2**32 - 1)))
    elif what == "method":
        struct.pack_into("<H", entry, 10, draw(st.sampled_from([1, 6, 9, 97, 98, 99])))
    elif what == "encrypted":
        struct.pack_into("<H", entry, 8, struct.unpack_from("<H", entry, 8)[0] | 1)
    elif what == "crc":
        struct.pack_into("<I", entry, 16, draw(st.integers(min_value=0, max_value=2**32 - 1)))
    elif what == "bad-encoding" and "é".encode() in data:
        return data.replace("é".encode(), b"\xc3\x28"), what
    elif what == "name-mismatch" and len(data) > central + 47:
        tail = bytearray(data[central + 46 :])
        tail[0] ^= 0x20
        return data[:central] + bytes(entry) + bytes(tail), what
    else:
        return data, None
    return data[:central] + bytes(entry) + data[central + 46 :], what


def _lying_xz(data: bytes, dict_code: int) -> bytes:
    """``data`` (xz, one LZMA2 block without size fields) claiming a huge dictionary."""
    head = bytearray(data[12 : 12 + (data[12] + 1) * 4])
    if data[:6] != XZ_MAGIC or head[1] != 0 or head[2] != 0x21:
        return data
    head[4] = dict_code
    struct.pack_into("<I", head, len(head) - 4, zlib.crc32(head[:-4]))
    return data[:12] + bytes(head) + data[12 + len(head) :]


def _lying_lzma_members(data: bytes) -> bytes:
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


@st.composite
def byte_mutations(draw: st.DrawFn, data: bytes) -> tuple[bytes, str | None]:
    """Truncation, flipped bytes or inserted bytes anywhere in the final file."""
    what = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip", "insert"]))
    if what == "none" or not data:
        return data, None
    at = draw(st.integers(min_value=0, max_value=len(data) - 1))
    if what == "truncate":
        return data[:at], what
    if what == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :], what
    return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:], what


@st.composite
def archives(
    draw: st.DrawFn, depth: int = 0, members: tuple[Entry, ...] | None = None,
    container: Container | None = None,
) -> Built:  # fmt: skip
    """A zip or tar (plain, gz, bz2 or xz) of random members, maybe tampered with."""
    items = members if members is not None else draw(entries(depth))
    tampered: list[str] = []
    kinds: list[Container] = ["zip", "tar"]
    chosen: Container = container if container is not None else draw(st.sampled_from(kinds))
    if chosen == "zip":
        methods = [draw(_METHODS) for _ in items]
        data = write_zip(items, methods)
        data, what = draw(zip_tamper(data))
        suffix = draw(st.sampled_from([".whl", ".whl", ".zip", ".tar.gz"]))
        filename = "pkg-1.0-py3-none-any.whl" if suffix == ".whl" else "pkg-1.0" + suffix
    else:
        fmt = draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))
        if fmt == tarfile.USTAR_FORMAT and any(len(e.name.encode()) > 99 for e in items):
            fmt = tarfile.PAX_FORMAT
        pax = {"comment": "x" * draw(st.integers(0, 2000))} if fmt == tarfile.PAX_FORMAT else {}
        raw, what = draw(tar_tamper(write_tar(items, fmt, pax)))
        how = draw(st.sampled_from(["gz", "gz", "", "bz2", "xz"]))
        data = compress(raw, how)
        if how == "xz" and draw(st.booleans()):
            data = _lying_xz(data, draw(st.integers(min_value=20, max_value=40)))
            tampered.append("xz-dictionary")
        suffix = {"gz": ".tar.gz", "": ".tar.gz", "bz2": ".tar.bz2", "xz": ".tar.xz"}[how]
        suffix = draw(st.sampled_from([suffix, suffix, ".tgz", ".whl"]))
        filename = "pkg-1.0" + suffix if suffix != ".whl" else "pkg-1.0-py3-none-any.whl"
    if what is not None:
        tampered.append(what)
    data, what = draw(byte_mutations(data))
    if what is not None:
        tampered.append(what)
    return Built(filename, data, items, tuple(tampered), chosen)


def top_level(name: str) -> str:
    return PurePosixPath(name.removeprefix("./")).parts[0]


_FIELDS: Final = ("Metadata-Version", "Name", "Version", "License", "License-Expression",
                  "Classifier", "License-File", "Summary", "Requires-Dist", "Dynamic")  # fmt: skip
_VALUES: Final = (
    "MIT", "Apache-2.0 OR MIT", "GPL-3.0-or-later WITH Classpath-exception-2.0", "mit or bsd",
    "License :: OSI Approved :: MIT License", "License :: OSI Approved :: BSD License",
    "LICENSE", "../../etc/passwd", "/etc/shadow", "pkg", "1.0", "1.0.0", "evil-pkg", "2.4",
    "(" * 400 + "MIT" + ")" * 400, "MIT AND " * 300 + "MIT", "LicenseRef-" + "x" * 5000,
    "GPLv3+", "The MIT License\n        Permission is hereby granted, free of charge",
)  # fmt: skip


@st.composite
def metadata(draw: st.DrawFn) -> bytes:
    """Core metadata: real fields with likely and hostile values, random headers, bad
    encodings, folded and huge lines, maybe a body."""
    lines: list[bytes] = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        key = draw(st.sampled_from(_FIELDS) | st.text(min_size=1, max_size=20))
        value = draw(st.sampled_from(_VALUES) | st.text(max_size=200))
        line = f"{key}: {value}".encode("utf-8", "surrogatepass")
        if draw(st.integers(min_value=0, max_value=15)) == 0:
            line += draw(st.sampled_from([b"\xff\xfe", b"\xe9t\xe9", b"\x00", b"\r", b"\n\t more"]))
        lines.append(line)
    if draw(st.integers(min_value=0, max_value=30)) == 0:  # a huge header around the cap
        size = draw(st.integers(min_value=900 * 1024, max_value=1100 * 1024))
        lines.append(b"License: " + b"x" * size)
    body = draw(st.sampled_from([b"", b"", b"\n\nA description\n", b"\n\n\xff\xfe body"]))
    return b"\n".join(lines) + b"\n" + body


@st.composite
def distributions(draw: st.DrawFn) -> Built:
    """A wheel or sdist with core metadata (and maybe license files) among random members,
    maybe tampered with; its ``meta`` is the metadata written into it."""
    wheel = draw(st.booleans())
    meta = draw(metadata())
    info = "pkg-1.0.dist-info/METADATA" if wheel else "pkg-1.0/PKG-INFO"
    items = [Entry(info, data=meta)]
    for name in draw(st.lists(st.sampled_from(["LICENSE", "COPYING.txt", "licenses/LICENSE",
                                                "NOTICE"]), max_size=3, unique=True)):  # fmt: skip
        folder = "pkg-1.0.dist-info" if wheel else "pkg-1.0"
        text = draw(st.sampled_from(_VALUES) | st.text(max_size=300))
        items.append(Entry(f"{folder}/{name}", data=text.encode("utf-8", "surrogatepass")))
    items += draw(entries(max_size=5))
    order = draw(st.permutations(items))
    odd = draw(st.integers(min_value=0, max_value=9)) == 0  # a wheel as tar, an sdist as zip
    container: Container = "zip" if wheel != odd else "tar"
    return replace(draw(archives(members=tuple(order), container=container)), meta=meta)
