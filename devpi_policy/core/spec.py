"""Parse the SPEC of ``devpi policy check``: a requirement pinned or not, or a file name."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from devpi_policy.core.evaluate import split_filename
from devpi_policy.errors import InvalidSpecError

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
