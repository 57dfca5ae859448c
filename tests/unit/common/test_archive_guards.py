"""Regression examples of what fuzzing the archive reader found (tests/unit/fuzz): each
was an exception other than ArchiveError, minutes of CPU, or gigabytes of allocation."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from devpi_foundry_common.archive import Archive, ArchiveError, Limits, core_metadata_only
from devpi_foundry_common.archive_guards import MAX_CHAIN, MAX_EXTENDED_BYTES, check_pax_records
from harness.fuzzing import MiB, bounded
from harness.hostile_writers import (
    Entry,
    compress,
    extended,
    lying_lzma_members,
    lying_xz,
    pax_record,
    write_tar,
    write_zip,
)

FILE = (Entry("pkg-1.0/PKG-INFO", data=b"Name: pkg\n"),)


def refused(data: bytes, filename: str, match: str, *, memory: int = 16 * MiB) -> None:
    """``Archive`` refuses ``data`` with ``match``, quickly and within ``memory``."""
    outcome = bounded(lambda: Archive(data, filename, Limits(max_lzma_memory=8 * MiB)))
    assert isinstance(outcome.error, ArchiveError), outcome.error
    assert match in str(outcome.error)
    assert outcome.peak < memory, outcome.peak
    assert outcome.seconds < 2, outcome.seconds


def tar_with(prefix: bytes) -> bytes:
    return compress(prefix + write_tar(FILE, tarfile.GNU_FORMAT, {}), "gz")


def test_pax_digit_runs_are_refused_before_tarfile_backtracks_on_them() -> None:
    # 64 KiB of digits took tarfile (Python 3.11.7, CVE-2024-6232) 11 s; 1 MiB, hours
    refused(tar_with(extended(b"x", pax_record("path", b"1" * 60_000))), "p-1.0.tar.gz",
            "digits in a row")  # fmt: skip


def test_a_huge_extended_header_is_not_read_into_memory() -> None:
    # a 20 MiB PAX header gzips to 20 KiB; tarfile read it whole
    refused(tar_with(extended(b"x", pax_record("comment", bytes(20 * MiB)))), "p-1.0.tar.gz",
            f"over {MAX_EXTENDED_BYTES}")  # fmt: skip
    refused(tar_with(extended(b"L", b"a" * (8 * MiB))), "p-1.0.tar.gz", "extended tar header")


def test_a_chain_of_extended_headers_does_not_recurse() -> None:
    # tarfile parses each PAX header by recursion into the next: RecursionError
    chain = extended(b"x", pax_record("comment", b"c")) * 3000
    refused(tar_with(chain), "p-1.0.tar.gz", f"more than {MAX_CHAIN} extended tar headers")


def test_malformed_pax_records_are_refused() -> None:
    assert check_pax_records(b"6 a=b\n") is None
    assert "no length" in str(check_pax_records(b"x a=b\n"))
    assert "KEY=VALUE" in str(check_pax_records(b"6 abcd\n"))


def test_a_lying_xz_dictionary_is_not_allocated() -> None:
    # a 300-byte .tar.xz claiming a 4 GiB dictionary made liblzma allocate 4 GiB
    data = lying_xz(compress(write_tar(FILE, tarfile.GNU_FORMAT, {}), "xz"), 40)
    refused(data, "p-1.0.tar.xz", "Memory usage limit")


def test_a_lying_zip_lzma_dictionary_is_not_allocated() -> None:
    data = lying_lzma_members(write_zip(FILE, [zipfile.ZIP_LZMA]))
    with Archive(data, "p-1.0.zip") as archive:
        outcome = bounded(lambda: archive.read("pkg-1.0/PKG-INFO"))
    assert isinstance(outcome.error, ArchiveError)
    assert "LZMA dictionary of 4294967295 bytes" in str(outcome.error)
    assert outcome.peak < 16 * MiB
    assert core_metadata_only(data, "p-1.0-py3-none-any.whl") is None


def test_zip_members_flagged_encrypted_or_named_in_bad_utf8_are_refused() -> None:
    data = bytearray(write_zip(FILE, [zipfile.ZIP_DEFLATED]))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1  # the encryption flag: zipfile raised RuntimeError on read
    with (
        Archive(bytes(data), "p-1.0.zip") as archive,
        pytest.raises(ArchiveError, match="encrypted"),
    ):
        archive.read("pkg-1.0/PKG-INFO")
    named = write_zip((Entry("pkg-1.0/é", data=b"x"),), [zipfile.ZIP_STORED])
    bad = named.replace("é".encode(), b"\xc3\x28")  # zipfile raised UnicodeDecodeError
    refused(bad, "p-1.0.zip", "not a readable archive")


def test_a_file_that_is_also_a_folder_is_refused() -> None:
    # extracting stopped half-way with FileExistsError
    data = compress(write_tar((Entry("pkg-1.0/a", data=b"1"), Entry("pkg-1.0/a/b", data=b"2")),
                              tarfile.GNU_FORMAT, {}), "gz")  # fmt: skip
    refused(data, "p-1.0.tar.gz", "is below the file 'pkg-1.0/a'")


def test_a_file_and_a_directory_of_the_same_name_are_refused() -> None:
    # tarfile's lookup by name found the directory: the file read as empty
    data = compress(write_tar((Entry("pkg-1.0/a", data=b"1" * 1025), Entry("pkg-1.0/a", "dir")),
                              tarfile.GNU_FORMAT, {}), "gz")  # fmt: skip
    refused(data, "p-1.0.tar.gz", "'pkg-1.0/a' in 'p-1.0.tar.gz' is both a file and a directory")


def test_a_member_written_as_dot_slash_is_read_from_a_zip() -> None:
    data = write_zip((Entry("./pkg-1.0/PKG-INFO", data=b"Name: pkg\n"),), [zipfile.ZIP_STORED])
    with Archive(data, "p-1.0.zip") as archive:
        assert archive.read("pkg-1.0/PKG-INFO") == b"Name: pkg\n"  # was a KeyError


def test_a_plain_tar_xz_within_the_limit_is_read() -> None:
    data = compress(write_tar(FILE, tarfile.PAX_FORMAT, {"comment": "ok"}), "xz")
    with Archive(io.BytesIO(data), "p-1.0.tar.xz") as archive:
        assert archive.read("pkg-1.0/PKG-INFO") == b"Name: pkg\n"


def test_a_tar_that_is_not_xz_is_never_tried_as_xz_without_the_lzma_limit() -> None:
    """tarfile's own "r:*" tries xz and legacy .lzma with no memory limit: 10 KiB of zeros
    (with one byte inserted) made it allocate 32 MiB (tox -e fuzz, test_tar_archives)."""
    data = bytearray(10241)
    data[58] = 2  # inside the first header: a bad checksum
    outcome = bounded(lambda: Archive(bytes(data), "pkg-1.0.tar.gz", Limits()).members)
    assert isinstance(outcome.error, ArchiveError)
    assert "method tar" in str(outcome.error)
    assert "lzma" not in str(outcome.error)
    assert outcome.peak < 4 * MiB
