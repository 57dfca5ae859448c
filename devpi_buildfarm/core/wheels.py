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


def import_names(data: Source, filename: str) -> list[str]:
    """What the smoke test imports: the wheel's top-level packages and modules and every
    extension module, as its ``RECORD`` lists them (``top_level.txt`` is often stale).

    Packages are directories with ``__init__.py`` (below a namespace directory too),
    modules ``.py`` files and extension modules ``.so``/``.pyd`` files (by dotted path,
    inside packages as well); never ``*.dist-info``, ``*.data`` or auditwheel's ``*.libs``.
    A wheel without ``RECORD`` is judged by its members.
    """
    with Archive(data, filename) as archive:
        records = [n for n in archive.members
                   if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]  # fmt: skip
        if records:
            text = archive.read(records[0], max_bytes=MAX_METADATA_BYTES)
            paths = [_record_path(line) for line in text.decode("utf-8", "replace").splitlines()]
        else:
            paths = list(archive.members)
    return modules_of([p for p in paths if p])


def _record_path(line: str) -> str:
    """The path of one ``RECORD`` row (CSV; a quoted path may hold commas)."""
    if line.startswith('"'):
        return line[1:].partition('"')[0]
    return line.partition(",")[0]


def modules_of(paths: list[str]) -> list[str]:
    """Importable names of a wheel's files (see :func:`import_names`).

    >>> modules_of(["pkg/__init__.py", "pkg/_x.cpython-311-x86_64-linux-gnu.so",
    ...             "ns/sub/__init__.py", "one.py", "pkg.libs/libz.so.1", "stale/README"])
    ['ns.sub', 'one', 'pkg', 'pkg._x']
    """
    files = {p.strip("/") for p in paths if not p.startswith(("/", "../"))}
    packages = {p.rpartition("/")[0] for p in files if p.endswith("/__init__.py")}
    names: set[str] = set()
    for path in files:
        top = path.partition("/")[0]
        if top.endswith((".dist-info", ".data", ".libs")):
            continue
        folder, _, leaf = path.rpartition("/")
        if leaf == "__init__.py" and not _inside_package(folder, packages):
            names.add(folder.replace("/", "."))
        elif not folder and leaf.endswith(".py"):
            names.add(leaf.removesuffix(".py"))
        elif leaf.endswith((".so", ".pyd")) and (not folder or folder in packages):
            names.add(".".join([*folder.split("/"), leaf.split(".", 1)[0]]).lstrip("."))
    return sorted(n for n in names if all(_IDENTIFIER.match(part) for part in n.split(".")))


def _inside_package(folder: str, packages: set[str]) -> bool:
    """Whether a parent directory of ``folder`` is a package (importing it imports this)."""
    parts = folder.split("/")
    return any("/".join(parts[:n]) in packages for n in range(1, len(parts)))
