"""Requirement strings that come from an sdist, checked before any tool sees them.

``[build-system] requires`` and what ``get_requires_for_build_wheel`` returns are written
by the sdist's author (a stranger), and so is a built wheel's ``Requires-Dist``. pip reads
a string that starts with ``-`` as an option, a URL or a path as a place to fetch code
from. Only plain PEP 508 requirements by name pass: ``packaging`` parses each, and a
refusal quotes the string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from packaging.requirements import InvalidRequirement, Requirement

if TYPE_CHECKING:
    from collections.abc import Iterable

#: more requirements than any real build asks for: a refusal, not a resource sink
MAX_REQUIREMENTS: Final = 200
MAX_LENGTH: Final = 500
#: names pip takes for a local archive file when one exists (even with --only-binary)
ARCHIVE_SUFFIXES: Final = (".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz",
                           ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma")  # fmt: skip


class RequirementRefused(ValueError):  # noqa: N818 - a refusal, reported to users as such
    """A requirement string that is not a plain requirement by name."""


def check_requirement(text: object, source: str) -> str:
    """``text`` as a normalised requirement; :class:`RequirementRefused` naming it if it is
    an option, a URL, a path or no requirement at all.

    >>> check_requirement("setuptools >= 61", "build-system.requires")
    'setuptools>=61'
    >>> check_requirement("--index-url=http://x", "build-system.requires")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    devpi_buildfarm.core.buildreqs.RequirementRefused: ...'--index-url=http://x' looks like...
    """
    if not isinstance(text, str):
        msg = f"{source}: {text!r} is not a string"
        raise RequirementRefused(msg)
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_LENGTH or any(ord(c) < 32 for c in stripped):  # noqa: PLR2004
        msg = f"{source}: {text!r} is empty, too long or holds control characters"
        raise RequirementRefused(msg)
    if stripped.startswith("-"):
        msg = f"{source}: {text!r} looks like an option; only requirements by name are allowed"
        raise RequirementRefused(msg)
    try:
        requirement = Requirement(stripped)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        msg = f"{source}: {text!r} is not a valid requirement: {reason}"
        raise RequirementRefused(msg) from None
    if requirement.name.lower().endswith(ARCHIVE_SUFFIXES):
        msg = (f"{source}: {text!r} looks like an archive file pip would open; only "
               "requirements by name are allowed")  # fmt: skip
        raise RequirementRefused(msg)
    if requirement.url is not None:
        msg = f"{source}: {text!r} names a URL; only requirements by name are allowed"
        raise RequirementRefused(msg)
    return str(requirement)


def check_requirements(texts: Iterable[object], source: str) -> list[str]:
    """Every string checked; one :class:`RequirementRefused` listing each refusal."""
    items = list(texts)
    if len(items) > MAX_REQUIREMENTS:
        msg = f"{source}: {len(items)} requirements, at most {MAX_REQUIREMENTS}"
        raise RequirementRefused(msg)
    checked, problems = [], []
    for text in items:
        try:
            checked.append(check_requirement(text, source))
        except RequirementRefused as exc:
            problems.append(str(exc))
    if problems:
        raise RequirementRefused("; ".join(problems))
    return checked
