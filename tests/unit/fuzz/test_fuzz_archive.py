"""The shared archive reader under random and mutated zips and tars: a clear refusal
(:class:`ArchiveError`) or exactly the members written, within the caps in memory and time."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import example, given

from devpi_foundry_common.archive import (
    Archive,
    ArchiveError,
    Limits,
    core_metadata_only,
    wheel_metadata,
)
from harness.fuzzing import MiB, bounded, check_bounds, count
from harness.hostile_archives import Built, Entry, archives, distributions

LIMITS = Limits(
    max_members=40,
    max_member_bytes=256 * 1024,
    max_total_bytes=512 * 1024,
    max_lzma_memory=16 * MiB,
)


def memory_cap(data: bytes) -> int:
    """What reading may hold: a few copies of the input and of the capped content, plus
    decompressor state."""
    return 3 * len(data) + 4 * LIMITS.max_total_bytes + LIMITS.max_lzma_memory + 8 * MiB


#: where the archives are extracted: memory, where there is a tmpfs (extraction is checked,
#: not the disk)
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None


def read_all(built: Built, dest: Path) -> dict[str, bytes]:
    """Every member, read and extracted to ``dest``."""
    with Archive(built.data, built.filename, LIMITS) as archive:
        found = {name: archive.read(name) for name in archive.members}
        archive.extract(dest)
        return found


@given(archives())
def test_archive_refuses_or_reads_exactly_what_was_written(built: Built) -> None:
    count("test_archive_refuses_or_reads_exactly_what_was_written")
    check_archive(built)


def check_archive(built: Built) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        outcome = bounded(lambda: read_all(built, Path(tmp)))  # the reader alone is bounded
        check_bounds(outcome, memory=memory_cap(built.data), what=f"{built.tampered}")
        if outcome.error is not None and not isinstance(outcome.error, ArchiveError):
            raise outcome.error
        if isinstance(outcome.value, dict):
            for name, data in outcome.value.items():
                assert (Path(tmp) / name).read_bytes() == data
    expected = built.expected(LIMITS)
    if not built.entries:  # tarfile refuses an empty tar with a global PAX header only
        return
    if expected is not None:
        assert outcome.error is None, f"refused a clean archive: {outcome.error}"
        assert outcome.value == expected
    elif not built.tampered and built.labelled:
        assert outcome.error is not None, "read an archive that must be refused"


@given(distributions())
def test_metadata_access_refuses_or_returns_the_metadata(built: Built) -> None:
    count("test_metadata_access_refuses_or_returns_the_metadata")
    meta = built.meta
    outcome = bounded(lambda: wheel_metadata(built.data, built.filename, LIMITS))
    check_bounds(outcome, memory=memory_cap(built.data), what="wheel_metadata")
    if outcome.error is not None and not isinstance(outcome.error, ArchiveError):
        raise outcome.error
    wheel = any(e.name == "pkg-1.0.dist-info/METADATA" for e in built.entries)
    if built.expected(LIMITS) is not None and wheel and len(meta) <= 1 * MiB:
        assert outcome.value == meta
    only = bounded(lambda: core_metadata_only(built.data, built.filename, LIMITS))
    check_bounds(only, memory=memory_cap(built.data), what="core_metadata_only")
    if only.error is not None:  # it answers None for what it cannot reach, never raises
        raise only.error
    assert only.value is None or isinstance(only.value, bytes)
    if only.value is not None and not built.tampered and built.labelled:
        assert only.value == meta


@example(Built("pkg-1.0.tar.gz", b"", (Entry("pkg-1.0/a"),), ("truncate",), "tar"))
@given(archives(container="tar"))
def test_tar_archives(built: Built) -> None:
    """Tars alone, for the header tampering only they get."""
    count("test_tar_archives")
    check_archive(built)
