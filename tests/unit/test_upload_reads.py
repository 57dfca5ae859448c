"""The upload path reads an uploaded archive in place, in small reads, and never more than
its caps allow: what devpi_policy (names in the core metadata) and devpi_license (the
license) read of devpi's temporary upload file, counted byte by byte."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile

from devpi_foundry_common.archive import MAX_METADATA_BYTES
from devpi_license.adapters.reading import LIMITS, license_of_file
from devpi_policy.adapters.uploads import core_metadata_naming

MIB = 1024 * 1024
METADATA = b"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nLicense-Expression: MIT\n\n"
WHEEL = "demo-1.0-py3-none-any.whl"
SDIST = "demo-1.0.tar.gz"


class CountingFile(io.BytesIO):
    """devpi's temporary upload file, counting what the readers take from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.total = 0
        self.largest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.total += len(data)
        self.largest = max(self.largest, len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        self.total += n
        self.largest = max(self.largest, n)
        return n


def noise(size: int) -> bytes:
    """Incompressible bytes (a seeded generator: the same every run)."""
    return random.Random(0).randbytes(size)  # noqa: S311 - test data, not a secret


def wheel(big: bytes, method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", METADATA)
        zf.writestr("demo/big.bin", big)
    return buf.getvalue()


def sdist(big: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("demo-1.0/PKG-INFO", METADATA), ("demo-1.0/big.bin", big)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_large_wheel_is_read_in_place_only_where_needed() -> None:
    data = wheel(noise(6 * MIB))
    upload = CountingFile(data)
    assert license_of_file(WHEEL, upload).expression == "MIT"
    upload.seek(0)
    naming = core_metadata_naming(WHEEL, upload)
    assert naming is not None
    assert naming.name == "demo"
    # the central directory and METADATA, not the 6 MiB member
    assert upload.total < 64 * 1024, upload.total


def test_a_wheel_member_over_the_cap_is_refused_without_reading_it() -> None:
    data = wheel(b"\0" * (LIMITS.max_member_bytes + 1), zipfile.ZIP_DEFLATED)
    upload = CountingFile(data)
    found = license_of_file(WHEEL, upload)
    assert "over the size limit" in found.unreadable[0]
    assert found.expression == "MIT"  # its METADATA alone can still be reached
    assert upload.total < 64 * 1024, upload.total


def test_an_sdist_is_streamed_in_small_reads() -> None:
    data = sdist(noise(6 * MIB))
    upload = CountingFile(data)
    assert license_of_file(SDIST, upload).expression == "MIT"
    upload.seek(0)
    naming = core_metadata_naming(SDIST, upload)
    assert naming is not None
    assert naming.version == "1.0"
    assert upload.largest <= MIB, upload.largest  # never the whole file at once
    # listing a tar.gz reads it through, a bounded number of times
    assert upload.total <= 4 * len(data)


def test_metadata_over_its_cap_is_not_read() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", METADATA + b"X" * MAX_METADATA_BYTES)
    upload = CountingFile(buf.getvalue())
    assert core_metadata_naming(WHEEL, upload) is None
    assert upload.total < 64 * 1024, upload.total
