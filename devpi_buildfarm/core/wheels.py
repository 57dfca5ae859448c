"""What a built wheel says about itself: its metadata and its importable top-level names."""

from __future__ import annotations

import re
from email.parser import BytesParser
from email.policy import compat32

from packaging.utils import canonicalize_name

from devpi_foundry_common.archive import (
    MAX_METADATA_BYTES,
    Archive,
    ArchiveError,
    Source,
    wheel_metadata,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def name_and_version(data: Source, filename: str) -> tuple[str, str]:
    """``Name`` and ``Version`` from the wheel's METADATA; :class:`ArchiveError` if absent."""
    raw = BytesParser(policy=compat32).parsebytes(wheel_metadata(data, filename))
    name, version = raw.get("Name"), raw.get("Version")
    if not name or not version:
        msg = f"{filename!r}: METADATA has no Name or Version"
        raise ArchiveError(msg)
    return str(canonicalize_name(str(name))), str(version).strip()


def top_level_names(data: Source, filename: str) -> list[str]:
    """Importable top-level packages and modules of a wheel, for the smoke test.

    From ``top_level.txt`` when the wheel has one, else from its members: packages
    (directories with ``__init__.py``), ``.py`` modules and extension modules; never
    ``*.dist-info``, ``*.data`` or auditwheel's ``*.libs``.
    """
    with Archive(data, filename) as archive:
        listed = [
            n
            for n in archive.members
            if n.count("/") == 1 and n.endswith(".dist-info/top_level.txt")
        ]
        if listed:
            text = archive.read(listed[0], max_bytes=MAX_METADATA_BYTES).decode("utf-8", "replace")
            names = {line.strip().split("/")[0] for line in text.splitlines()}
        else:
            names = set()
            for member in archive.members:
                top, _, rest = member.partition("/")
                if top.endswith((".dist-info", ".data", ".libs")):
                    continue
                if rest == "__init__.py" or (not rest and top.endswith(".py")):
                    names.add(top.removesuffix(".py"))
                elif not rest and top.endswith((".so", ".pyd")):
                    names.add(top.split(".", 1)[0])
    return sorted(n for n in names if _IDENTIFIER.match(n))
