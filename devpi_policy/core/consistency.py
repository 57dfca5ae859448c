"""Whether an upload names one release: its core metadata, its file name and its form.

A file whose ``METADATA``/``PKG-INFO`` names another project or version than its file
name and the upload form would be judged by the rules under one name and installed by
pip under another (pip then refuses it, or worse, a resolver takes it for the other
project). Uploads must agree on all three, compared after normalisation: names as
PEP 503 does, versions as PEP 440 does (as text when one is not a valid version).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True, kw_only=True, slots=True)
class Naming:
    """The project name and version one source gives (``None``: it gives none)."""

    source: str
    name: str | None
    version: str | None


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.strip().lower() == b.strip().lower()


def naming_problem(filename: str, namings: list[Naming]) -> str | None:
    """Why the sources do not agree on the release ``filename`` is (``None``: they do).

    >>> file = Naming(source="file name", name="good", version="1.0")
    >>> meta = Naming(source="core metadata", name="Good", version="1.0.0")
    >>> naming_problem("good-1.0.tar.gz", [file, meta]) is None
    True
    >>> evil = Naming(source="core metadata", name="evil-pkg", version="1.0")
    >>> print(naming_problem("good-1.0.tar.gz", [file, evil]))
    'good-1.0.tar.gz' names different releases: file name 'good' '1.0', core metadata 'evil-pkg' '1.0'; the file name, the upload form and the file's core metadata must name the same project and version
    """  # noqa: E501 - a doctest line
    names = {canonicalize_name(n.name) for n in namings if n.name}
    versions = [n.version for n in namings if n.version]
    same = len(names) <= 1 and all(_same_version(versions[0], v) for v in versions[1:])
    if same:
        return None
    said = ", ".join(f"{n.source} {n.name!r} {n.version!r}" for n in namings)
    return (
        f"{filename!r} names different releases: {said}; the file name, the upload form and "
        "the file's core metadata must name the same project and version"
    )
