"""The names an uploaded file gives itself: file name, upload form and core metadata.

Only the file's ``*.dist-info/METADATA`` (wheels) or top-level ``PKG-INFO`` (sdists) is
read, with the bounded reader's single-member access (devpi_foundry_common.archive), in
place from devpi's temporary file. A file whose core metadata cannot be reached that way
is judged by its file name and form alone (license rules judge it as ``unreadable``).
"""

from __future__ import annotations

from typing import IO

from packaging.metadata import parse_email

from devpi_foundry_common.archive import core_metadata_only
from devpi_policy.core.consistency import Naming, naming_problem
from devpi_policy.core.evaluate import split_filename


def core_metadata_naming(filename: str, stream: IO[bytes]) -> Naming | None:
    """Name and version in the file's core metadata (``None``: it cannot be reached)."""
    stream.seek(0)
    try:
        metadata = core_metadata_only(stream, filename)
    finally:
        stream.seek(0)
    if metadata is None:
        return None
    raw, _ = parse_email(metadata)
    return Naming(source="core metadata", name=raw.get("name"), version=raw.get("version"))


def upload_naming_problem(
    filename: str, form_name: str, form_version: str | None, stream: IO[bytes]
) -> str | None:
    """Why an upload's file name, form and core metadata disagree (``None``: they agree)."""
    file_name, file_version, _ = split_filename(filename)
    namings = [
        Naming(source="file name", name=file_name, version=file_version),
        Naming(source="upload form", name=form_name or None, version=form_version),
    ]
    found = core_metadata_naming(filename, stream)
    if found is not None:
        namings.append(found)
    return naming_problem(filename, namings)
