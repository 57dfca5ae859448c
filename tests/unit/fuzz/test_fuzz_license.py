"""devpi_license's readers under hostile archives and metadata: a LicenseInfo always (a
refused file as ``unreadable`` evidence), never an exception, within the caps."""

from __future__ import annotations

import io

from hypothesis import given

from devpi_license.adapters.reading import LIMITS, license_of_file, license_of_metadata
from devpi_license.core.extract import LicenseInfo
from harness.fuzzing import MiB, bounded, check_bounds, count
from harness.hostile_archives import Built, distributions, metadata


def memory_cap(size: int) -> int:
    """The input, a few copies of a member under the reader's cap (metadata and license
    texts and their parsing), and the LZMA decompressor's cap."""
    return 3 * size + 4 * LIMITS.max_member_bytes + LIMITS.max_lzma_memory + 8 * MiB


@given(distributions())
def test_license_of_file_answers_for_every_file(built: Built) -> None:
    count("test_license_of_file_answers_for_every_file")
    for source in (built.data, io.BytesIO(built.data)):
        outcome = bounded(lambda source=source: license_of_file(built.filename, source))  # type: ignore[misc]
        check_bounds(outcome, memory=memory_cap(len(built.data)), what="license_of_file")
        if outcome.error is not None:
            raise outcome.error
        info = outcome.value
        assert isinstance(info, LicenseInfo)
        if (
            built.expected(LIMITS) is None
            and not built.tampered
            and built.labelled
            and built.entries
        ):
            assert info.unreadable, "a file the reader must refuse was read"


@given(metadata())
def test_license_of_metadata_answers_for_any_metadata(meta: bytes) -> None:
    count("test_license_of_metadata_answers_for_any_metadata")
    outcome = bounded(
        lambda: license_of_metadata(meta, {"LICENSE": meta.decode("utf-8", "replace")})
    )
    check_bounds(outcome, memory=memory_cap(len(meta)), what="license_of_metadata")
    if outcome.error is not None:
        raise outcome.error
    assert isinstance(outcome.value, LicenseInfo)
