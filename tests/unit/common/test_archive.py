"""Bounded archive reading: hostile sdists and wheels are refused with a clear reason."""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

import pytest

from devpi_foundry_common.archive import Archive, ArchiveError, Limits, wheel_metadata

if TYPE_CHECKING:
    from pathlib import Path


def make_tar(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def link(name: str, kind: bytes, target: str = "/etc/passwd") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_reads_and_extracts_a_plain_sdist(tmp_path: Path) -> None:
    data = make_tar([("pkg-1.0/PKG-INFO", b"Name: pkg\n"), ("pkg-1.0/src/m.py", b"x = 1\n")])
    with Archive(data, "pkg-1.0.tar.gz") as archive:
        assert archive.top_level() == "pkg-1.0"
        assert archive.read("pkg-1.0/PKG-INFO") == b"Name: pkg\n"
        archive.extract(tmp_path)
    assert (tmp_path / "pkg-1.0" / "src" / "m.py").read_text() == "x = 1\n"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (("../evil.py", b"x"), "parent directory references"),
        (("pkg-1.0/../../evil.py", b"x"), "parent directory references"),
        (("/etc/cron.d/evil", b"x"), "absolute paths"),
        (("pkg-1.0\\evil.py", b"x"), "backslashes"),
        (("pkg-1.0/evil\x1b.py", b"x"), "control characters"),
        (link("pkg-1.0/passwd", tarfile.SYMTYPE), "links are not allowed"),
        (link("pkg-1.0/hard", tarfile.LNKTYPE), "links are not allowed"),
        (link("pkg-1.0/dev", tarfile.CHRTYPE), "only files and directories"),
        (link("pkg-1.0/fifo", tarfile.FIFOTYPE), "only files and directories"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "backslash", "control", "symlink", "hardlink",
         "device", "fifo"],
)  # fmt: skip
def test_hostile_tar_members_are_refused(
    member: tarfile.TarInfo | tuple[str, bytes], reason: str
) -> None:
    data = make_tar([("pkg-1.0/PKG-INFO", b"x"), member])
    with pytest.raises(ArchiveError, match=reason):
        Archive(data, "pkg-1.0.tar.gz")


def test_zip_path_traversal_is_refused() -> None:
    data = make_zip([("../../evil.py", b"x")])
    with pytest.raises(ArchiveError, match="parent directory"):
        Archive(data, "pkg-1.0.zip")


def test_zip_symlink_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("pkg-1.0/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="links are not allowed"):
        Archive(buf.getvalue(), "pkg-1.0.zip")


def test_zip_bomb_is_refused_by_ratio() -> None:
    data = make_zip([("pkg-1.0/bomb", bytes(50 * 1024 * 1024))])
    assert len(data) < 100_000
    with pytest.raises(ArchiveError, match="compression ratio"):
        Archive(data, "pkg-1.0.zip")


def test_tar_bomb_is_refused_by_total_size() -> None:
    data = make_tar([("pkg-1.0/a", bytes(3000)), ("pkg-1.0/b", bytes(3000))])
    with pytest.raises(ArchiveError, match="unpacks to more than 5000 bytes"):
        Archive(data, "pkg-1.0.tar.gz", Limits(max_total_bytes=5000))


def test_member_limits() -> None:
    many = make_tar([(f"pkg-1.0/{i}", b"") for i in range(11)])
    with pytest.raises(ArchiveError, match="more than 10 members"):
        Archive(many, "pkg-1.0.tar.gz", Limits(max_members=10))
    big = make_tar([("pkg-1.0/big", bytes(2000))])
    with pytest.raises(ArchiveError, match="over the size limit"):
        Archive(big, "pkg-1.0.tar.gz", Limits(max_member_bytes=1000))


def test_duplicate_members_are_refused() -> None:
    data = make_tar([("pkg-1.0/a", b"1"), ("pkg-1.0/a", b"2")])
    with pytest.raises(ArchiveError, match="appears twice"):
        Archive(data, "pkg-1.0.tar.gz")


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"not an archive", "pkg-1.0.tar.gz", "not a readable archive"),
        (b"PK\x03\x04broken", "pkg-1.0-py3-none-any.whl", "not a readable archive"),
        (b"", "pkg-1.0.exe", "not an sdist or wheel"),
    ],
)
def test_broken_archives(data: bytes, filename: str, reason: str) -> None:
    with pytest.raises(ArchiveError, match=reason):
        Archive(data, filename)


def test_top_level_must_be_one_directory() -> None:
    data = make_tar([("a-1.0/x", b""), ("b-1.0/y", b"")])
    with Archive(data, "a-1.0.tar.gz") as archive, pytest.raises(ArchiveError, match="one top"):
        archive.top_level()


def test_wheel_metadata() -> None:
    wheel = make_zip(
        [("pkg/__init__.py", b""), ("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n")]
    )
    assert wheel_metadata(wheel, "pkg-1.0-py3-none-any.whl").startswith(b"Name: pkg")
    nested = make_zip([("pkg/x-1.0.dist-info/METADATA", b"Name: x\n")])
    with pytest.raises(ArchiveError, match="exactly one"):
        wheel_metadata(nested, "pkg-1.0-py3-none-any.whl")


class CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_a_file_is_read_in_place() -> None:
    """Only the members asked for (and the central directory) are read from a file source,
    so a large upload is never copied into memory."""
    big = bytes(range(256)) * (8 * 1024 * 4)  # 8 MiB that compress poorly stored
    wheel = make_zip(
        [("pkg/data.bin", big), ("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n")],
        method=zipfile.ZIP_STORED,
    )
    source = CountingFile(wheel)
    assert wheel_metadata(source, "pkg-1.0-py3-none-any.whl").startswith(b"Name: pkg")
    assert source.bytes_read < 64 * 1024


def test_a_file_source_gets_the_same_checks() -> None:
    bomb = make_zip([("pkg-1.0/bomb", bytes(50 * 1024 * 1024))])
    with pytest.raises(ArchiveError, match="compression ratio"):
        Archive(io.BytesIO(bomb), "pkg-1.0.zip")
    sdist = make_tar([("pkg-1.0/PKG-INFO", b"Name: pkg\n"), link("pkg-1.0/x", tarfile.SYMTYPE)])
    with pytest.raises(ArchiveError, match="links are not allowed"):
        Archive(io.BytesIO(sdist), "pkg-1.0.tar.gz")
    with pytest.raises(ArchiveError, match="not a readable archive"):
        Archive(io.BytesIO(b"garbage"), "pkg-1.0-py3-none-any.whl")
