"""Hypothesis strategies for hostile sdists and wheels: random and mutated zips and tars.

An :class:`Built` archive is made from a model (its :class:`Entry` list) with real
``zipfile``/``tarfile`` writers (:mod:`harness.hostile_writers`), then optionally tampered
with: bombs, nested archives, links and devices, ``..``, absolute and control-character
names, duplicates, huge and chained extended headers, bad name encodings, bad declared
sizes, encryption flags, unsupported methods, a lying xz dictionary size, truncation and
flipped bytes. :meth:`Built.expected` says what a correct bounded reader returns for an
untampered one (``None``: it must refuse it); a tampered one must be refused or read
without any other exception. Used by tests/unit/fuzz (a small fixed budget in the unit
tier, ``tox -e fuzz`` for the large one).

Speed matters here: ``tox -e fuzz`` draws 100,000 archives per reader, and hypothesis
spent most of each example drawing them. So every strategy is built once, at import; the
steps of one archive are plain functions of ``draw`` rather than nested composite
strategies (each call of one makes a new strategy object that hypothesis validates again:
5x a plain draw), and a name's segments are drawn one by one rather than as a list of
filtered text (2.4x).
"""

from __future__ import annotations

import itertools
import struct
import tarfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Final, Literal

from hypothesis import strategies as st

from harness.hostile_writers import (
    Entry,
    Kind,
    compress,
    extended,
    lying_lzma_members,
    lying_xz,
    pax_record,
    write_tar,
    write_zip,
)

if TYPE_CHECKING:
    from devpi_foundry_common.archive import Limits

__all__ = ["Built", "Entry", "archives", "distributions", "metadata", "mutate"]

Container = Literal["zip", "tar"]

#: names a bounded reader must refuse (each for a reason of its own)
HOSTILE_NAMES: Final = (
    "../evil.py", "pkg-1.0/../../evil.py", "/etc/passwd", "C:/evil.py", "c:evil.py",
    "pkg-1.0\\evil.py", "pkg-1.0/evil\x1b.py", "pkg-1.0/a\x7f", "pkg-1.0/\x01", "..",
    "pkg-1.0/..", "//server/share",
)  # fmt: skip
#: a safe name's prefix and number of segments below the top folder (one draw of both),
#: and each segment (``.`` and ``..`` are made safe by appending ``_``)
_NAME_SHAPES: Final = st.sampled_from(
    [(prefix, depth) for prefix in ("", "", "", "./") for depth in (1, 2, 3, 4)]
)
_SEGMENT: Final = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.éü", min_size=1,
                          max_size=40)  # fmt: skip
_KINDS: Final[tuple[Kind, ...]] = ("file",) * 6 + ("dir", "symlink", "hardlink", "fifo", "chardev")
#: a member's kind and whether its name is safe, hostile or an earlier one's (one draw;
#: 15% hostile and 10% earlier ones, about what the nested strategies this replaced made)
_SHAPES: Final = st.sampled_from(
    [
        (kind, name)
        for kind in _KINDS
        for name in ("safe",) * 15 + ("hostile",) * 3 + ("duplicate",) * 2
    ]
)
#: how many members (``sampled_from``: hypothesis's mutator copies values between draws of
#: one label, and every ``integers`` draw has the same one, so a count drawn as an integer
#: came out 0 twice as often as the others)
_MEMBERS: Final = {size: st.sampled_from(range(size + 1)) for size in (5, 8)}
_ROLL: Final = st.integers(min_value=0, max_value=9)
_HOSTILE: Final = st.sampled_from(HOSTILE_NAMES)
_TARGETS: Final = st.sampled_from((*HOSTILE_NAMES, "x"))
#: a file's content (bombs twice as often as nested archives: drawn through nested
#: strategies, as before, hypothesis's mutator copied them from member to member)
_CONTENT: Final = st.sampled_from(["bytes"] * 10 + ["text"] * 6 + ["bomb", "bomb", "nested"])
_TEXT: Final = st.text(max_size=300)
_BYTES: Final = st.binary(max_size=600)
#: sizes of bombs and huge headers: each power of two is as likely (large ones are slow)
_SIZES: Final = st.integers(min_value=10, max_value=20).map(lambda bits: 2**bits + 1)


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


def safe_name(draw: st.DrawFn, top: str = "pkg-1.0") -> str:
    """``top`` and 1 to 4 segments of letters, digits, ``_-.éü`` (never ``.`` or ``..``)."""
    prefix, depth = draw(_NAME_SHAPES)
    parts = [draw(_SEGMENT) for _ in range(depth)]
    return prefix + "/".join([top, *(p + "_" if p in (".", "..") else p for p in parts)])


def content(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Small bytes, text, a bomb of zeros (up to 1 MiB) or a nested archive."""
    choice = draw(_CONTENT)
    if choice == "bomb":
        return bytes(draw(_SIZES))
    if choice == "nested" and depth < 2:
        return archive(draw, depth=depth + 1).data
    if choice == "text":
        return draw(_TEXT).encode("utf-8", "surrogatepass")
    return draw(_BYTES)


def members(draw: st.DrawFn, depth: int = 0, max_size: int = 8) -> tuple[Entry, ...]:
    """A member list: mostly safe files, some directories, links, devices, hostile and
    duplicate names."""
    found: list[Entry] = []
    for _ in range(draw(_MEMBERS[max_size])):
        kind, name = draw(_SHAPES)
        if name == "hostile":
            entry = Entry(draw(_HOSTILE), kind, hostile=True)
        elif name == "duplicate" and found:
            earlier = draw(st.integers(min_value=0, max_value=len(found) - 1))
            entry = Entry(found[earlier].name, kind)
        else:
            entry = Entry(safe_name(draw), kind)
        if kind == "file":
            entry = replace(entry, data=content(draw, depth))
        elif kind in ("symlink", "hardlink"):
            entry = replace(entry, data=draw(_TARGETS).encode())
        found.append(entry)
    return tuple(found)


TAR_TAMPERING: Final = ("huge-pax", "digits-pax", "pax-chain", "gnu-long", "size-field",
                        "bad-encoding", "garbage-pax")  # fmt: skip
ZIP_TAMPERING: Final = ("declared-size", "method", "encrypted", "bad-encoding", "name-mismatch",
                        "crc", "lzma-dictionary")  # fmt: skip
_TAR_WAYS: Final = st.sampled_from(["none"] * 5 + list(TAR_TAMPERING))
_ZIP_WAYS: Final = st.sampled_from(["none"] * 5 + list(ZIP_TAMPERING))
_SIZE_FIELDS: Final = st.sampled_from([b"77777777777\0", b"\x80" + bytes(11), b"xyz\0" * 3,
                                       b"00000000001\0", b"\xff" * 12])  # fmt: skip
_GARBAGE: Final = st.binary(max_size=2000)
_CHAIN: Final = st.integers(min_value=2, max_value=3000)
_U32: Final = st.integers(min_value=0, max_value=2**32 - 1)
_BAD_METHODS: Final = st.sampled_from([1, 6, 9, 97, 98, 99])


def tar_tamper(draw: st.DrawFn, raw: bytes) -> tuple[bytes, str | None]:  # noqa: PLR0911 - one per way
    """The uncompressed tar, with at most one header-level mutation."""
    what = draw(_TAR_WAYS)
    if what == "none":
        return raw, None
    if what == "huge-pax":  # an extended header far over any sane size, compressing to little
        return extended(b"x", pax_record("comment", bytes(draw(_SIZES)))) + raw, what
    if what == "digits-pax":  # the pax regexes of Python < 3.11.10 backtrack on digit runs
        return extended(b"x", pax_record("path", b"1" * draw(_SIZES))) + raw, what
    if what == "garbage-pax":
        return extended(b"x", draw(_GARBAGE)) + raw, what
    if what == "pax-chain":  # every extended header recurses into the next one
        return extended(b"x", pax_record("comment", b"c")) * draw(_CHAIN) + raw, what
    if what == "gnu-long":
        return extended(b"L", b"a" * draw(_SIZES)) + raw, what
    if what == "size-field" and len(raw) >= 512:
        field = draw(_SIZE_FIELDS)
        block = draw(st.integers(min_value=0, max_value=len(raw) // 512 - 1)) * 512
        return raw[: block + 124] + field + raw[block + 136 :], what
    if what == "bad-encoding" and "é".encode() in raw:
        return raw.replace("é".encode(), b"\xff\xfe", 1), what
    return raw, None


def zip_tamper(draw: st.DrawFn, data: bytes) -> tuple[bytes, str | None]:
    """The written zip, with at most one mutation of its central directory."""
    what = draw(_ZIP_WAYS)
    central = data.find(b"PK\x01\x02")
    if what == "none" or central < 0:
        return data, None
    if what == "lzma-dictionary":
        return lying_lzma_members(data), what
    entry = bytearray(data[central : central + 46])
    if what == "declared-size":  # a bomb that claims to be small, or a file that lies
        struct.pack_into("<I", entry, 24, draw(_U32))
    elif what == "method":
        struct.pack_into("<H", entry, 10, draw(_BAD_METHODS))
    elif what == "encrypted":
        struct.pack_into("<H", entry, 8, struct.unpack_from("<H", entry, 8)[0] | 1)
    elif what == "crc":
        struct.pack_into("<I", entry, 16, draw(_U32))
    elif what == "bad-encoding" and "é".encode() in data:
        return data.replace("é".encode(), b"\xc3\x28"), what
    elif what == "name-mismatch" and len(data) > central + 47:
        tail = bytearray(data[central + 46 :])
        tail[0] ^= 0x20
        return data[:central] + bytes(entry) + bytes(tail), what
    else:
        return data, None
    return data[:central] + bytes(entry) + data[central + 46 :], what


_MUTATIONS: Final = st.sampled_from(["none"] * 6 + ["truncate", "flip", "insert"])
_FLIP: Final = st.integers(min_value=1, max_value=255)
_INSERT: Final = st.binary(min_size=1, max_size=64)


def mutate(draw: st.DrawFn, data: bytes) -> tuple[bytes, str | None]:
    """Truncation, flipped bytes or inserted bytes anywhere in the final file."""
    what = draw(_MUTATIONS)
    if what == "none" or not data:
        return data, None
    at = draw(st.integers(min_value=0, max_value=len(data) - 1))
    if what == "truncate":
        return data[:at], what
    if what == "flip":
        return data[:at] + bytes([data[at] ^ draw(_FLIP)]) + data[at + 1 :], what
    return data[:at] + draw(_INSERT) + data[at:], what


_CONTAINERS: Final[st.SearchStrategy[Container]] = st.sampled_from(["zip", "tar"])
_METHODS: Final = st.sampled_from(
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
#: a zip's LZMA dictionary: mostly up to 256 KiB (an encoder for 1 MiB or more takes
#: 0.5 ms to 1.4 ms to set up), sometimes 1 MiB or zipfile's own 8 MiB
_LZMA_DICTS: Final = st.sampled_from([1 << 12, 1 << 16, 1 << 16, 1 << 18, 1 << 18, 1 << 18, 1 << 20,
                                      None])  # fmt: skip
_ZIP_SUFFIXES: Final = st.sampled_from([".whl", ".whl", ".zip", ".tar.gz"])
_TAR_FORMATS: Final = st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT,
                                       tarfile.USTAR_FORMAT])  # fmt: skip
_COMMENT: Final = st.integers(min_value=0, max_value=2000)
_COMPRESSIONS: Final = st.sampled_from(["gz", "gz", "", "bz2", "xz"])
_DICT_CODES: Final = st.integers(min_value=20, max_value=40)
_TAR_SUFFIXES: Final = {
    how: st.sampled_from([suffix, suffix, ".tgz", ".whl"])
    for how, suffix in {"gz": ".tar.gz", "": ".tar.gz", "bz2": ".tar.bz2", "xz": ".tar.xz"}.items()
}


def archive(
    draw: st.DrawFn, depth: int = 0, items: tuple[Entry, ...] | None = None,
    container: Container | None = None,
) -> Built:  # fmt: skip
    """A zip or tar (plain, gz, bz2 or xz) of random members, maybe tampered with."""
    items = items if items is not None else members(draw, depth)
    tampered: list[str] = []
    chosen: Container = container if container is not None else draw(_CONTAINERS)
    if chosen == "zip":
        methods = [draw(_METHODS) for _ in items]
        lzma_dict = draw(_LZMA_DICTS) if zipfile.ZIP_LZMA in methods else None
        data, what = zip_tamper(draw, write_zip(items, methods, lzma_dict))
        suffix = draw(_ZIP_SUFFIXES)
        filename = "pkg-1.0-py3-none-any.whl" if suffix == ".whl" else "pkg-1.0" + suffix
    else:
        fmt = draw(_TAR_FORMATS)
        if fmt == tarfile.USTAR_FORMAT and any(len(e.name.encode()) > 99 for e in items):
            fmt = tarfile.PAX_FORMAT
        pax = {"comment": "x" * draw(_COMMENT)} if fmt == tarfile.PAX_FORMAT else {}
        raw, what = tar_tamper(draw, write_tar(items, fmt, pax))
        how = draw(_COMPRESSIONS)
        data = compress(raw, how)
        if how == "xz" and draw(st.booleans()):
            data = lying_xz(data, draw(_DICT_CODES))
            tampered.append("xz-dictionary")
        suffix = draw(_TAR_SUFFIXES[how])
        filename = "pkg-1.0" + suffix if suffix != ".whl" else "pkg-1.0-py3-none-any.whl"
    if what is not None:
        tampered.append(what)
    data, what = mutate(draw, data)
    if what is not None:
        tampered.append(what)
    return Built(filename, data, items, tuple(tampered), chosen)


@st.composite
def archives(draw: st.DrawFn, container: Container | None = None) -> Built:
    """:func:`archive` as a strategy."""
    return archive(draw, container=container)


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
_LINES: Final = st.integers(min_value=0, max_value=12)
#: half the keys and values are known ones, half random text (``None``: draw the text);
#: one draw where ``sampled_from(...) | text(...)`` takes two
_KNOWN_KEYS: Final = st.sampled_from((*_FIELDS, *(None,) * len(_FIELDS)))
_KEY_TEXT: Final = st.text(min_size=1, max_size=20)
_KNOWN_VALUES: Final = st.sampled_from((*_VALUES, *(None,) * len(_VALUES)))
_VALUE_TEXT: Final = st.text(max_size=200)
_ODD: Final = st.integers(min_value=0, max_value=15)
_ODD_ENDINGS: Final = st.sampled_from([b"\xff\xfe", b"\xe9t\xe9", b"\x00", b"\r", b"\n\t more"])
_HUGE: Final = st.integers(min_value=0, max_value=30)
_HUGE_SIZE: Final = st.integers(min_value=900 * 1024, max_value=1100 * 1024)
_BODIES: Final = st.sampled_from([b"", b"", b"\n\nA description\n", b"\n\n\xff\xfe body"])


def core_metadata(draw: st.DrawFn) -> bytes:
    """Core metadata: real fields with likely and hostile values, random headers, bad
    encodings, folded and huge lines, maybe a body."""
    lines: list[bytes] = []
    for _ in range(draw(_LINES)):
        key = draw(_KNOWN_KEYS)
        key = draw(_KEY_TEXT) if key is None else key
        value = draw(_KNOWN_VALUES)
        value = draw(_VALUE_TEXT) if value is None else value
        line = f"{key}: {value}".encode("utf-8", "surrogatepass")
        if draw(_ODD) == 0:
            line += draw(_ODD_ENDINGS)
        lines.append(line)
    if draw(_HUGE) == 0:  # a huge header around the cap
        lines.append(b"License: " + b"x" * draw(_HUGE_SIZE))
    return b"\n".join(lines) + b"\n" + draw(_BODIES)


@st.composite
def metadata(draw: st.DrawFn) -> bytes:
    """:func:`core_metadata` as a strategy."""
    return core_metadata(draw)


#: which license files (up to 3 of 4; none in 3 of 17): one draw of the set
_LICENSE_FILES: Final = st.sampled_from(
    [()] * 3
    + [
        names
        for size in (1, 2, 3)
        for names in itertools.combinations(
            ("LICENSE", "COPYING.txt", "licenses/LICENSE", "NOTICE"), size
        )
    ]
)
_LICENSE_TEXT: Final = st.text(max_size=300)


def shuffled(draw: st.DrawFn, items: list[Entry]) -> tuple[Entry, ...]:
    """``items`` in a drawn order (Fisher-Yates; shrinks towards the given order)."""
    order = list(items)
    for i in range(len(order) - 1, 0, -1):
        j = i - draw(st.integers(min_value=0, max_value=i))
        order[i], order[j] = order[j], order[i]
    return tuple(order)


@st.composite
def distributions(draw: st.DrawFn) -> Built:
    """A wheel or sdist with core metadata (and maybe license files) among random members,
    maybe tampered with; its ``meta`` is the metadata written into it."""
    wheel = draw(st.booleans())
    # the members before the metadata: what is drawn late is more often cut short (0 extra
    # members in a third of the examples when they came last, 13% first)
    extra = members(draw, max_size=5)
    folder = "pkg-1.0.dist-info" if wheel else "pkg-1.0"
    licenses = []
    for name in draw(_LICENSE_FILES):
        known = draw(_KNOWN_VALUES)
        text = (draw(_LICENSE_TEXT) if known is None else known).encode("utf-8", "surrogatepass")
        licenses.append(Entry(f"{folder}/{name}", data=text))
    meta = core_metadata(draw)
    info = "pkg-1.0.dist-info/METADATA" if wheel else "pkg-1.0/PKG-INFO"
    items = [Entry(info, data=meta), *licenses, *extra]
    odd = draw(_ROLL) == 0  # a wheel as tar, an sdist as zip
    container: Container = "zip" if wheel != odd else "tar"
    built = archive(draw, items=shuffled(draw, items), container=container)
    return replace(built, meta=meta)
