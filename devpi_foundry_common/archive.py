"""Bounded reading of distribution archives (sdists and wheels): the only module that
opens zip and tar files.

Uploaded archives are hostile input. Every member name is checked (no absolute paths,
``..``, backslashes or control characters), links and device files are refused, and the
member count, each member's size, the total uncompressed size and the compression ratio
are capped before anything is read. Members are read into memory under those caps;
:func:`extract` writes regular files only, each checked to land inside the destination.
"""

from __future__ import annotations

import io
import lzma
import tarfile  # noqa: TID251 - this is the archive module
import zipfile  # noqa: TID251 - this is the archive module
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Final, Literal, Self

from devpi_foundry_common.archive_guards import (
    XZ_MAGIC,
    BoundedTarInfo,
    lzma_member_problem,
    open_xz,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

#: an archive's content: its bytes, or a seekable binary file positioned at the archive's
#: start, read in place without copying it into memory (an upload's temporary file)
Source = bytes | IO[bytes]

SDIST_SUFFIXES: Final = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_ZIP_METHODS: Final = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)


class ArchiveError(ValueError):
    """An archive that is malformed, hostile or over a limit; the message says which."""


#: what zipfile, tarfile and the decompressors raise for broken input (a member flagged as
#: encrypted: RuntimeError; a name not in its declared encoding: UnicodeDecodeError; an
#: offset before the start: ValueError)
_UNREADABLE: Final = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error,
                      lzma.LZMAError, RuntimeError, ValueError, NotImplementedError)  # fmt: skip


def _open_tar(fileobj: IO[bytes], limits: Limits) -> tarfile.TarFile:
    """An sdist's tar (plain, gzip, bzip2 or xz), xz decompressed within the LZMA limit and
    extended headers checked (devpi_foundry_common.archive_guards)."""
    start = fileobj.tell()
    magic = fileobj.read(len(XZ_MAGIC))
    fileobj.seek(start)
    if magic == XZ_MAGIC:
        reader = open_xz(fileobj, limits.max_lzma_memory)
        return tarfile.open(fileobj=reader, mode="r:", tarinfo=BoundedTarInfo)
    # not tarfile's "r:*": it also tries xz (and legacy .lzma) with no memory limit, which
    # took 32 MiB for 10 KiB of zeros (found by tox -e fuzz); xz only through open_xz above
    failed = []
    modes: tuple[Literal["r:", "r:gz", "r:bz2"], ...] = ("r:", "r:gz", "r:bz2")
    for mode in modes:
        fileobj.seek(start)
        try:
            return tarfile.open(fileobj=fileobj, mode=mode, tarinfo=BoundedTarInfo)
        except (tarfile.ReadError, tarfile.CompressionError) as exc:
            failed.append(f"- method {mode[2:] or 'tar'}: {exc!r}")
    msg = "file could not be opened successfully:\n" + "\n".join(failed)
    raise tarfile.ReadError(msg)


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Caps applied to one archive."""

    max_members: int = 20_000
    max_member_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    #: the memory an LZMA decompressor may take (its dictionary): ``xz -9`` needs 65 MiB
    max_lzma_memory: int = 96 * 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    """A regular file of an archive, with its checked name."""

    name: str
    size: int


def check_name(name: str, archive: str) -> str:
    """``name`` if it is a safe relative member path; :class:`ArchiveError` otherwise.

    >>> check_name("pkg-1.0/setup.py", "pkg-1.0.tar.gz")
    'pkg-1.0/setup.py'
    """
    problem = None
    if not name or "\\" in name:
        problem = "backslashes and empty names are not allowed"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):  # noqa: PLR2004 - control chars
        problem = "control characters are not allowed"
    elif name.startswith("/") or ":" in name.split("/", maxsplit=1)[0]:  # also C:/...
        problem = "absolute paths are not allowed"
    elif ".." in PurePosixPath(name).parts:
        problem = "parent directory references are not allowed"
    if problem is not None:
        msg = f"member {name!r} in {archive!r}: {problem}"
        raise ArchiveError(msg)
    return name.removeprefix("./")


def _size(source: IO[bytes]) -> int:
    start = source.tell()
    size = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    return size


def _check_no_file_is_a_folder(members: dict[str, Member], folders: set[str], archive: str) -> None:
    """Refuse a regular file that is also a directory member (tarfile's lookup by name
    then finds the directory), or that another member's path needs as a directory (``a``
    and ``a/b``): no file system holds both, and extracting it would stop half-way."""
    for name in members:
        if name in folders:
            msg = f"member {name!r} in {archive!r} is both a file and a directory"
            raise ArchiveError(msg)
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in members:
                msg = f"member {name!r} in {archive!r} is below the file {folder!r}"
                raise ArchiveError(msg)


class Archive:
    """An open sdist or wheel, from its bytes or a seekable binary file, with every member
    checked up front. A file is read in place (it must stay open while the archive is)."""

    def __init__(self, data: Source, filename: str, limits: Limits | None = None) -> None:
        self.filename = filename
        self.limits = limits or Limits()
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        self._tar_infos: dict[str, tarfile.TarInfo] = {}
        if not filename.endswith((".whl", *SDIST_SUFFIXES)):
            msg = f"{filename!r} is not an sdist or wheel archive"
            raise ArchiveError(msg)
        try:
            fileobj = io.BytesIO(data) if isinstance(data, bytes) else data
            size = len(data) if isinstance(data, bytes) else _size(data)
            if filename.endswith((".whl", ".zip")):
                self._zip = zipfile.ZipFile(fileobj)
            else:
                self._tar = _open_tar(fileobj, self.limits)
            self.members = self._check(size)
        except ArchiveError:
            raise
        except _UNREADABLE as exc:
            msg = f"{filename!r} is not a readable archive: {exc}"
            raise ArchiveError(msg) from exc

    def _infos(self) -> Iterator[tuple[str, int, int, bool]]:
        """(name, uncompressed size, compressed size, is a regular file) per member; a tar's
        regular members are kept by name, so :meth:`read` finds them without a scan."""
        if self._zip is not None:
            for info in self._zip.infolist():
                if info.compress_type not in _ZIP_METHODS:
                    msg = f"member {info.filename!r} in {self.filename!r}: unsupported compression"
                    raise ArchiveError(msg)
                mode = info.external_attr >> 16
                if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000):
                    msg = f"member {info.filename!r} in {self.filename!r}: links are not allowed"
                    raise ArchiveError(msg)
                yield info.filename, info.file_size, info.compress_size, not info.is_dir()
            return
        assert self._tar is not None  # noqa: S101 - one of the two is open
        for tinfo in self._tar:
            if tinfo.issym() or tinfo.islnk():
                msg = f"member {tinfo.name!r} in {self.filename!r}: links are not allowed"
                raise ArchiveError(msg)
            if not (tinfo.isfile() or tinfo.isdir()):
                msg = f"member {tinfo.name!r} in {self.filename!r}: only files and directories"
                raise ArchiveError(msg)
            if tinfo.isfile():
                self._tar_infos[tinfo.name.removeprefix("./")] = tinfo
            yield tinfo.name, tinfo.size, 0, tinfo.isfile()

    def _check(self, size: int) -> dict[str, Member]:
        members: dict[str, Member] = {}
        folders: set[str] = set()
        total = 0
        count = 0
        for raw, length, _, regular in self._infos():
            count += 1
            if count > self.limits.max_members:
                msg = f"{self.filename!r} has more than {self.limits.max_members} members"
                raise ArchiveError(msg)
            name = check_name(raw.rstrip("/") if not regular else raw, self.filename)
            if not regular:
                folders.add(name)
                continue
            if length > self.limits.max_member_bytes:
                msg = (
                    f"member {name!r} in {self.filename!r} is over the size limit ({length} bytes)"
                )
                raise ArchiveError(msg)
            total += length
            if total > self.limits.max_total_bytes:  # checked as we go: stop a bomb early
                msg = f"{self.filename!r} unpacks to more than {self.limits.max_total_bytes} bytes"
                raise ArchiveError(msg)
            if name in members:
                msg = f"member {name!r} in {self.filename!r} appears twice"
                raise ArchiveError(msg)
            members[name] = Member(name=name, size=length)
        _check_no_file_is_a_folder(members, folders, self.filename)
        if size and total / size > self.limits.max_ratio and total > 1024 * 1024:
            msg = f"{self.filename!r}: compression ratio over {self.limits.max_ratio:g} (zip bomb?)"
            raise ArchiveError(msg)
        return members

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """The content of member ``name`` (size checked while reading); ``max_bytes`` caps
        this read below the archive's member cap (metadata is small, its parsers are not)."""
        member = self.members.get(name)
        if member is None:
            msg = f"{self.filename!r} has no member {name!r}"
            raise ArchiveError(msg)
        if max_bytes is not None and member.size > max_bytes:
            msg = f"member {name!r} in {self.filename!r} is larger than {max_bytes} bytes"
            raise ArchiveError(msg)
        try:
            data = self._read(name, member.size)
        except _UNREADABLE as exc:
            msg = f"member {name!r} in {self.filename!r} cannot be read: {exc}"
            raise ArchiveError(msg) from exc
        if len(data) != member.size:
            msg = f"member {name!r} in {self.filename!r} is not the size it declares"
            raise ArchiveError(msg)
        return data

    def _read(self, name: str, size: int) -> bytes:
        if self._zip is not None:
            try:
                info = self._zip.getinfo(name)
            except KeyError:  # written as ./name
                info = self._zip.getinfo(f"./{name}")
            problem = lzma_member_problem(self._zip, info, self.limits.max_lzma_memory)
            if problem is not None:
                raise zipfile.BadZipFile(problem)
            with self._zip.open(info) as fh:
                return fh.read(size + 1)
        assert self._tar is not None  # noqa: S101
        extracted = self._tar.extractfile(self._tar_infos[name])
        return extracted.read(size + 1) if extracted is not None else b""

    def extract(self, dest: Path) -> None:
        """Write every regular file under ``dest`` (which must exist)."""
        root = dest.resolve()
        for name in self.members:
            target = (root / name).resolve()
            if root not in target.parents:
                msg = f"member {name!r} in {self.filename!r} would land outside the target"
                raise ArchiveError(msg)
            data = self.read(name)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as exc:  # a name too long for the file system, a file as a folder
                msg = f"member {name!r} in {self.filename!r} cannot be written: {exc}"
                raise ArchiveError(msg) from exc

    def top_level(self) -> str:
        """The one top-level directory of an sdist (``pkg-1.0``)."""
        tops = {name.split("/", 1)[0] for name in self.members if "/" in name}
        if len(tops) != 1 or any("/" not in name for name in self.members):
            msg = f"{self.filename!r} does not have exactly one top-level directory"
            raise ArchiveError(msg)
        return tops.pop()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the largest METADATA read: real ones are kilobytes; email parsing costs many times the size
MAX_METADATA_BYTES: Final = 1024 * 1024


def wheel_metadata(data: Source, filename: str, limits: Limits | None = None) -> bytes:
    """The ``METADATA`` of a wheel's single top-level ``*.dist-info`` directory (at most
    :data:`MAX_METADATA_BYTES`)."""
    with Archive(data, filename, limits) as archive:
        found = [
            name
            for name in archive.members
            if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
        ]
        if len(found) != 1:
            msg = f"{filename!r} does not have exactly one *.dist-info/METADATA"
            raise ArchiveError(msg)
        return archive.read(found[0], max_bytes=MAX_METADATA_BYTES)


def core_metadata_only(data: Source, filename: str, limits: Limits | None = None) -> bytes | None:
    """The core metadata of an archive that :class:`Archive` refused (a link or device
    member, too many members, ...), when it can still be reached safely: a wheel's single
    top-level ``*.dist-info/METADATA`` or an sdist's top-level ``PKG-INFO``, a regular file
    with a safe name, at most :data:`MAX_METADATA_BYTES`. No other member is read. ``None``
    when there is no such member; a tar is scanned for at most ``max_members`` members."""
    limits = limits or Limits()
    fileobj = io.BytesIO(data) if isinstance(data, bytes) else data
    start = fileobj.tell()
    try:
        if filename.endswith(".whl"):
            return _zip_metadata(fileobj, filename, limits)
        if filename.endswith(SDIST_SUFFIXES) and not filename.endswith(".zip"):
            return _tar_metadata(fileobj, filename, limits)
    except (*_UNREADABLE, ArchiveError):
        return None
    finally:
        fileobj.seek(start)
    return None


def _zip_metadata(fileobj: IO[bytes], filename: str, limits: Limits) -> bytes | None:
    with zipfile.ZipFile(fileobj) as zf:
        found = [
            info
            for info in zf.infolist()
            if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
        ]
        if len(found) != 1:
            return None
        info = found[0]
        check_name(info.filename, filename)
        mode = info.external_attr >> 16
        if (
            info.compress_type not in _ZIP_METHODS
            or (mode & 0o170000) not in (0, 0o100000)  # a regular file, or no type bits
            or info.file_size > MAX_METADATA_BYTES
            or lzma_member_problem(zf, info, limits.max_lzma_memory) is not None
        ):
            return None
        with zf.open(info) as fh:
            content = fh.read(MAX_METADATA_BYTES + 1)
        return content if len(content) == info.file_size else None


def _tar_metadata(fileobj: IO[bytes], filename: str, limits: Limits) -> bytes | None:
    with _open_tar(fileobj, limits) as tar:
        for count, tinfo in enumerate(tar):
            if count >= limits.max_members:
                return None
            name = tinfo.name.removeprefix("./")
            if name.count("/") != 1 or not name.endswith("/PKG-INFO"):
                continue
            if not tinfo.isfile() or tinfo.size > MAX_METADATA_BYTES:
                return None
            check_name(name, filename)
            extracted = tar.extractfile(tinfo)
            content = extracted.read(MAX_METADATA_BYTES + 1) if extracted is not None else b""
            return content if len(content) == tinfo.size else None
    return None
