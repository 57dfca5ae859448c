"""Parse the SPEC of ``devpi policy check``: a requirement pinned or not, or a file name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from devpi_policy.core.evaluate import split_filename
from devpi_policy.errors import InvalidSpecError

if TYPE_CHECKING:
    from collections.abc import Iterable

_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".egg")


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckSpec:
    """A project (``version=None``), one release, or one distribution file."""

    project: str
    version: str | None = None
    filename: str | None = None


def parse_check_spec(text: str) -> CheckSpec:
    """Parse ``name``, ``name==version`` or a distribution file name.

    >>> parse_check_spec("requests==2.19.0")
    CheckSpec(project='requests', version='2.19.0', filename=None)
    >>> parse_check_spec("evil_pkg-1.0-py3-none-any.whl")
    CheckSpec(project='evil-pkg', version='1.0', filename='evil_pkg-1.0-py3-none-any.whl')
    """
    spec = text.strip()
    if not spec:
        msg = "empty spec; give a project, project==version or a file name"
        raise InvalidSpecError(msg)
    if spec.lower().endswith(_DIST_SUFFIXES) and "/" not in spec:
        name, version, _ = split_filename(spec)
        return CheckSpec(project=name, version=version, filename=spec)
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        msg = f"{spec!r} is not a requirement or a file name ({exc})"
        raise InvalidSpecError(msg) from exc
    specs = list(req.specifier)
    if not specs:
        return CheckSpec(project=req.name)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return CheckSpec(project=req.name, version=specs[0].version)
    msg = f"{spec!r}: give one exact version (name==1.2) or none, not a range"
    raise InvalidSpecError(msg)


def same_version(wanted: str, held: str) -> bool:
    """Whether a held version is the one SPEC names (PEP 440 equal, else the same text).

    >>> same_version("1.0", "1.0.0"), same_version("1.0", "1.1"), same_version("x", "x")
    (True, False, True)
    """
    try:
        return Version(wanted) == Version(held)
    except InvalidVersion:
        return wanted == held


def spec_held(spec: CheckSpec, versions: Iterable[str], filenames: Iterable[str]) -> bool:
    """Whether an index with these versions and file names of SPEC's project holds SPEC.

    >>> spec = parse_check_spec("lib==1.0")
    >>> spec_held(spec, ["1.0"], []), spec_held(spec, ["2.0"], [])
    (True, False)
    >>> spec_held(parse_check_spec("lib-1.0.tar.gz"), ["1.0"], ["lib-1.0.zip"])
    False
    """
    if spec.filename is not None:
        return spec.filename in set(filenames)
    if spec.version is None:
        return any(True for _ in versions)
    return any(same_version(spec.version, held) for held in versions)


def newest_versions(versions: Iterable[str], *, newer_than: str | None, limit: int) -> list[str]:
    """The newest ``limit`` of ``versions`` (PEP 440; unparseable ones left out), newest
    first, only those newer than ``newer_than`` when given.

    >>> newest_versions(["1.0", "2.0", "x", "1.10"], newer_than="1.0", limit=5)
    ['2.0', '1.10']
    """
    parsed = []
    for text in set(versions):
        try:
            parsed.append((Version(text), text))
        except InvalidVersion:
            continue
    if newer_than is not None:
        floor = Version(newer_than)
        parsed = [(v, t) for v, t in parsed if v > floor]
    return [text for _, text in sorted(parsed, reverse=True)[:limit]]
