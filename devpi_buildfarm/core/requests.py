"""What ``devpi build request`` asks for: requirement specifiers and requirements files.

A request names releases the way pip does (``numpy``, ``numpy==2.1.0``, ``lxml>=5,<6``);
the server picks, per requirement, the newest version that has an sdist and matches.
Requirements files are read like pip reads them, minus what makes no sense for building:
options (``--index-url``, ``-e``, ``-c``) and direct URL references are refused, each with
its line number; environment markers and extras are ignored (every target is built).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet  # noqa: TC002 - the dataclass field's type
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's rule: '#' at the start or after whitespace
#: The most requirements one request may carry.
MAX_REQUIREMENTS = 500


@dataclass(frozen=True, slots=True)
class Wanted:
    """One requirement of a request: a project and the versions it accepts."""

    text: str
    project: str
    specifier: SpecifierSet

    def as_text(self) -> str:
        return f"{self.project}{self.specifier}"


def parse_requirement(text: str) -> Wanted:
    """Parse one requirement; :class:`ValueError` with a readable message when it is not one.

    >>> parse_requirement("Demo_Ext[fast]>=1.0,<2; python_version>'3'").as_text()
    'demo-ext<2,>=1.0'
    >>> parse_requirement("demo @ https://example.org/demo-1.0.tar.gz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'demo @ https://example.org/demo-1.0.tar.gz': direct URL references cannot be ...
    """
    cleaned = text.strip()
    try:
        req = Requirement(cleaned)
    except InvalidRequirement as exc:
        why = str(exc).splitlines()[0] if str(exc) else "unparsable"
        msg = f"{cleaned!r} is not a requirement: {why}"
        raise ValueError(msg) from None
    if req.url:
        msg = f"{cleaned!r}: direct URL references cannot be built from the index"
        raise ValueError(msg)
    return Wanted(text=cleaned, project=canonicalize_name(req.name), specifier=req.specifier)


def parse_requirements_file(text: str, source: str = "<requirements>") -> list[Wanted]:
    """The requirements of a pip requirements file; every problem at once as ValueError."""
    wanted: list[Wanted] = []
    problems: list[str] = []
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            option = line.split()[0]
            problems.append(f"{source}:{number}: option {option!r} is not supported here")
            continue
        try:
            wanted.append(parse_requirement(line))
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
    if len(wanted) > MAX_REQUIREMENTS:
        problems.append(f"{source}: {len(wanted)} requirements, at most {MAX_REQUIREMENTS}")
    if problems:
        raise ValueError("\n".join(problems))
    return wanted


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each non-empty line, comments removed, ``\\`` joined."""
    result: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw)
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            result.append((start, joined))
    if pending.strip():
        result.append((start, pending.strip()))
    return result


def newest_matching(versions: list[str], specifier: SpecifierSet) -> str | None:
    """The newest of ``versions`` that ``specifier`` accepts (pre-releases only when it
    names one, or when nothing else matches, as pip does).

    >>> newest_matching(["1.0", "2.0rc1", "1.5"], SpecifierSet(""))
    '1.5'
    >>> newest_matching(["1.0", "2.0rc1"], SpecifierSet(">=2.0rc1"))
    '2.0rc1'
    >>> newest_matching(["1.0", "not a version"], SpecifierSet("<1"))
    """
    by_version: dict[Version, str] = {}
    for text in versions:
        try:
            by_version[Version(text)] = text
        except InvalidVersion:
            continue
    matching = list(specifier.filter(by_version))
    return by_version[max(matching)] if matching else None
