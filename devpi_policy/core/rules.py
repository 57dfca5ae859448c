"""Parse the ``policy_*`` index options into rules.

A project pattern is a name or a glob (``evil-*``, ``acme.*``), PEP 503-normalised,
optionally followed by a PEP 440 specifier set (``requests<2.20``, ``django>=4,<4.2``).
devpi splits list options on commas, so a fragment that starts with a PEP 440 operator
continues the previous pattern. A file selector is a filename glob or
``tag:<python>-<abi>-<platform>`` with ``*`` allowed per part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Literal, cast

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from devpi_policy.errors import InvalidRulesError

if TYPE_CHECKING:
    from collections.abc import Iterable

Mode = Literal["enforce", "dry-run"]
MODES: Final[tuple[Mode, ...]] = ("enforce", "dry-run")

_OPERATORS: Final = "===|~=|==|!=|<=|>=|<|>"
_ANY_OPERATOR: Final = re.compile(_OPERATORS)
_OPERATOR: Final = re.compile(rf"^\s*({_OPERATORS})")
_NAME_GLOB: Final = re.compile(r"^[A-Za-z0-9*?\[\]][A-Za-z0-9._\-*?\[\]]*$")
_TAG_PART: Final = re.compile(r"^[A-Za-z0-9_.*]+$")


@lru_cache(maxsize=65536)
def normalize(name: str) -> str:
    """PEP 503 normalisation, also applied to globs (``Acme.*`` -> ``acme-*``).

    >>> normalize("Foo__Bar.baz")
    'foo-bar-baz'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectPattern:
    """One ``policy_include``/``policy_exclude`` entry."""

    text: str
    name_glob: str
    specifier: SpecifierSet | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FileSelector:
    """One ``policy_exclude_files`` entry: a filename glob or a wheel tag selector."""

    text: str
    glob: str | None = None
    tag: tuple[str, str, str] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Rules:
    """The parsed policy options of one index."""

    index: str
    include: tuple[ProjectPattern, ...] = ()
    exclude: tuple[ProjectPattern, ...] = ()
    exclude_files: tuple[FileSelector, ...] = ()
    mode: Mode = "enforce"

    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Rules key memoised decisions on every listed file: hash them once, not per lookup
        key = (self.index, self.include, self.exclude, self.exclude_files, self.mode)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    @property
    def empty(self) -> bool:
        return not (self.include or self.exclude or self.exclude_files)


def join_fragments(values: Iterable[str]) -> list[str]:
    """Re-join list fragments devpi split on commas.

    >>> join_fragments(["django>=4", "<4.2", "evil-*"])
    ['django>=4,<4.2', 'evil-*']
    """
    joined: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        if joined and _OPERATOR.match(value):
            joined[-1] = f"{joined[-1]},{value}"
        else:
            joined.append(value)
    return joined


def _parse_pattern(text: str, option: str, issues: list[str]) -> ProjectPattern | None:
    first_op = _ANY_OPERATOR.search(text)
    split = first_op.start() if first_op else len(text)
    name, spec = text[:split].strip(), text[split:].strip()
    if not _NAME_GLOB.match(name) or name.count("[") != name.count("]"):
        issues.append(f"{option}: {text!r} is not a project name or glob")
        return None
    specifier = None
    if spec:
        try:
            specifier = SpecifierSet(spec)
        except InvalidSpecifier:
            issues.append(f"{option}: {text!r} has an invalid version specifier {spec!r}")
            return None
    return ProjectPattern(text=text, name_glob=normalize(name), specifier=specifier)


def _parse_selector(text: str, issues: list[str]) -> FileSelector | None:
    if not text.startswith("tag:"):
        if "/" in text or "\\" in text:
            issues.append(f"policy_exclude_files: {text!r} must be a file name glob, not a path")
            return None
        return FileSelector(text=text, glob=text)
    parts = text.removeprefix("tag:").split("-")
    if len(parts) != 3 or not all(_TAG_PART.match(p) for p in parts):  # noqa: PLR2004
        issues.append(
            f"policy_exclude_files: {text!r} is not a tag selector; "
            "use tag:<python>-<abi>-<platform>, e.g. tag:cp3*-*-win_*"
        )
        return None
    return FileSelector(text=text, tag=(parts[0], parts[1], parts[2]))


def parse_rules(
    index: str,
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    exclude_files: Iterable[str] = (),
    mode: str = "enforce",
) -> Rules:
    """Parse an index's policy options; raises :class:`InvalidRulesError` listing every problem."""
    issues: list[str] = []
    inc = [_parse_pattern(t, "policy_include", issues) for t in join_fragments(include)]
    exc = [_parse_pattern(t, "policy_exclude", issues) for t in join_fragments(exclude)]
    files = [_parse_selector(t.strip(), issues) for t in exclude_files if t.strip()]
    if mode not in MODES:
        issues.append(f"policy_mode: {mode!r} is not one of {', '.join(MODES)}")
    if issues:
        raise InvalidRulesError(issues)
    return Rules(
        index=index,
        include=tuple(p for p in inc if p is not None),
        exclude=tuple(p for p in exc if p is not None),
        exclude_files=tuple(s for s in files if s is not None),
        mode=cast("Mode", mode),  # checked against MODES above
    )
