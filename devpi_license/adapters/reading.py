"""A distribution file's license: core metadata and license files read with the bounded
archive reader (nothing is extracted to disk; size, member and ratio limits apply).

Wheels: ``*.dist-info/METADATA`` and, per PEP 639, ``*.dist-info/licenses/...`` (older
wheels: the ``License-File`` names in the dist-info). Sdists: ``PKG-INFO`` of the top-level
directory and the files its ``License-File`` entries name, else ``LICENSE*``/``COPYING*``
at the top level. A file that cannot be read gives ``unreadable`` evidence saying why, and
what its core metadata names if that member alone can still be reached; it never raises.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Final

from packaging.metadata import parse_email

from devpi_foundry_common.archive import (
    Archive,
    ArchiveError,
    Limits,
    Source,
    core_metadata_only,
)
from devpi_license.core.extract import UNREADABLE, Evidence, LicenseInfo, extract

if TYPE_CHECKING:
    from collections.abc import Mapping

#: reading a license needs far less than building: the shared reader's caps, with a
#: tighter one per member (no cap looser than the shared defaults: tests/unit/license)
LIMITS: Final = Limits(max_member_bytes=8 * 1024 * 1024)
MAX_LICENSE_FILES: Final = 8
MAX_LICENSE_BYTES: Final = 256 * 1024
_LICENSE_NAMES: Final = ("license", "licence", "copying", "notice")


def license_of_metadata(metadata: bytes, license_files: Mapping[str, str]) -> LicenseInfo:
    """The license named by core metadata bytes (``METADATA``/``PKG-INFO``)."""
    raw, _ = parse_email(metadata)
    return extract(raw, license_files)


def license_of_file(filename: str, data: Source) -> LicenseInfo:
    """The license of the wheel or sdist ``filename`` with content ``data`` (its bytes, or
    a seekable binary file at its start, read in place: only the members used are read)."""
    start = None if isinstance(data, bytes) else data.tell()
    try:
        with Archive(data, filename, LIMITS) as archive:
            if filename.endswith(".whl"):
                metadata, files = _wheel(archive)
            else:
                metadata, files = _sdist(archive)
    except (ArchiveError, UnicodeDecodeError, ValueError) as exc:
        if start is not None and not isinstance(data, bytes):
            data.seek(start)
        return _unreadable(filename, data, exc)
    return license_of_metadata(metadata, files)


def _unreadable(filename: str, data: Source, exc: Exception) -> LicenseInfo:
    """A file the reader refused: ``unreadable`` evidence saying why, plus what its core
    metadata names where that alone can still be reached safely (no license files)."""
    refused = Evidence(UNREADABLE, filename, None, 0.0, f"could not be read: {exc}")
    metadata = core_metadata_only(data, filename, LIMITS)
    if metadata is None:
        return LicenseInfo(None, None, 0.0, (refused,))
    try:
        info = license_of_metadata(metadata, {})
    except (UnicodeDecodeError, ValueError):
        return LicenseInfo(None, None, 0.0, (refused,))
    return replace(info, evidence=(*info.evidence, refused))


def _texts(archive: Archive, names: list[str]) -> dict[str, str]:
    found = {}
    for name in names[:MAX_LICENSE_FILES]:
        member = archive.members.get(name)
        if member is None or member.size > MAX_LICENSE_BYTES:
            continue
        found[name.rsplit("/", 1)[-1]] = archive.read(name).decode("utf-8", "replace")
    return found


def _wheel(archive: Archive) -> tuple[bytes, dict[str, str]]:
    infos = [n for n in archive.members if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    if len(infos) != 1:
        msg = "no single *.dist-info/METADATA"
        raise ValueError(msg)
    distinfo = infos[0].rsplit("/", 1)[0]
    metadata = archive.read(infos[0])
    raw, _ = parse_email(metadata)
    named = [f"{distinfo}/licenses/{n}" for n in raw.get("license_files") or ()]
    named += [f"{distinfo}/{n}" for n in raw.get("license_files") or ()]
    licenses_dir = sorted(n for n in archive.members if n.startswith(f"{distinfo}/licenses/"))
    return metadata, _texts(archive, [n for n in dict.fromkeys(named + licenses_dir)
                                      if n in archive.members])  # fmt: skip


def _sdist(archive: Archive) -> tuple[bytes, dict[str, str]]:
    top = archive.top_level()
    metadata = archive.read(f"{top}/PKG-INFO")
    raw, _ = parse_email(metadata)
    named = [f"{top}/{n}" for n in raw.get("license_files") or ()]
    guessed = sorted(
        n for n in archive.members
        if n.count("/") == 1 and n.split("/")[1].lower().startswith(_LICENSE_NAMES)
    )  # fmt: skip
    return metadata, _texts(archive, [n for n in dict.fromkeys(named or guessed)
                                      if n in archive.members])  # fmt: skip
