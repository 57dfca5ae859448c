"""Where a release's license is read from: one file per version, cached or upstream.

For each version the most telling file is read: a wheel (its ``METADATA`` is small and
near the end of the archive) before an sdist. A file already stored in devpi is read from
devpi's file store; a mirrored file that is not cached yet is read from upstream, its PEP
658/714 ``.metadata`` first where the upstream offers it, else the file itself, up to a
size limit. All of this runs on the extraction threads, never on a request.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from devpi_foundry_common.archive import MAX_METADATA_BYTES
from devpi_license.adapters.reading import license_of_file, license_of_metadata
from devpi_license.core.extract import Evidence, LicenseInfo

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)
TIMEOUT: Final = 60.0
#: an upstream file up to this size is read in memory, a larger one from a temporary file
SPOOL_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Candidate:
    """The file of ``version`` to read: ``relpath`` in devpi's store, ``url`` upstream."""

    version: str
    filename: str
    relpath: str
    url: str | None


def version_of(filename: str) -> str | None:
    """The version in a wheel or sdist file name (``None``: not a distribution we read)."""
    try:
        return str(parse_wheel_filename(filename)[1])
    except InvalidWheelFilename:
        pass
    try:
        return str(parse_sdist_filename(filename)[1])
    except InvalidSdistFilename:
        return None


def _order(filename: str) -> int:
    return 0 if filename.endswith(".whl") else 1


def _newest_first(version: str) -> tuple[int, Any]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def choose(files: Iterable[tuple[str, str, str | None]], skip: set[str]) -> list[Candidate]:
    """One candidate per version not in ``skip`` from ``(filename, relpath, url)``,
    newest version first."""
    best: dict[str, Candidate] = {}
    for filename, relpath, url in files:
        version = version_of(filename)
        if version is None or version in skip:
            continue
        known = best.get(version)
        if known is None or _order(filename) < _order(known.filename):
            best[version] = Candidate(version, filename, relpath, url)
    return sorted(best.values(), key=lambda c: _newest_first(c.version), reverse=True)


def _unreadable(filename: str, why: str) -> LicenseInfo:
    return LicenseInfo(None, None, 0.0, (Evidence("file", filename, None, 0.0, why),))


def fetch_upstream(client: httpx.Client, candidate: Candidate, max_bytes: int) -> LicenseInfo:
    """Read a mirrored file's license from upstream: ``.metadata`` first, then the file.

    Raises ``httpx.HTTPError`` on network trouble (the caller tries again later)."""
    url = candidate.url or ""
    if candidate.filename.endswith(".whl"):
        metadata = _upstream_metadata(client, f"{url.split('#', 1)[0]}.metadata")
        if metadata is not None:
            info = license_of_metadata(metadata, {})
            why = "upstream core metadata (PEP 658); license files not read"
            return LicenseInfo(info.expression, info.source, info.confidence,
                               (*info.evidence, Evidence("file", candidate.filename, None,
                                                         0.0, why)), info.conflicts)  # fmt: skip
    # spooled: a small file stays in memory, a large one goes to a temporary file
    with (
        client.stream("GET", url, timeout=TIMEOUT) as response,
        tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool,
    ):
        response.raise_for_status()
        size = int(response.headers.get("content-length") or 0)
        if size > max_bytes:
            return _unreadable(candidate.filename, f"not read: {size} bytes > {max_bytes}")
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > max_bytes:
                return _unreadable(candidate.filename, f"not read: more than {max_bytes} bytes")
            spool.write(chunk)
        spool.seek(0)
        return license_of_file(candidate.filename, spool)


def _upstream_metadata(client: httpx.Client, url: str) -> bytes | None:
    """A PEP 658 ``.metadata`` file, at most :data:`MAX_METADATA_BYTES` (``None``: the
    upstream has none, or a larger one: the caller reads the wheel instead)."""
    with client.stream("GET", url, timeout=TIMEOUT) as response:
        if response.status_code != httpx.codes.OK:
            return None
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_METADATA_BYTES:
                return None
    return data


def read_stored(entry: Any, candidate: Candidate, max_bytes: int) -> LicenseInfo | None:
    """Read a file devpi holds (``None``: not stored here yet). Call in a read transaction."""
    if entry is None or not entry.file_exists():
        return None
    size = entry.file_size()
    if size is not None and size > max_bytes:
        return _unreadable(candidate.filename, f"not read: {size} bytes > {max_bytes}")
    with entry.file_open_read() as stream:  # read in place: only the members used
        return license_of_file(candidate.filename, stream)
