"""Decide whether a project, release or file is allowed by the rules on an inheritance path.

Every index whose rules apply is checked; a "no" from an index in ``enforce`` mode denies,
one from an index in ``dry-run`` mode is recorded and lets the request through. A decision
always carries the reasons a person reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from devpi_policy.core.rules import FileSelector, Mode, ProjectPattern, Rules, normalize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from packaging.tags import Tag


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """The outcome of a check: ``denials`` enforce, ``dry_run`` denials were only recorded."""

    denials: tuple[str, ...] = ()
    dry_run: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.denials

    @property
    def reason(self) -> str:
        """All enforced reasons, as one line."""
        return "; ".join(self.denials)


def combine(decisions: Sequence[Decision]) -> Decision:
    """One decision holding every reason of ``decisions`` (each once, in order)."""
    denials = [r for d in decisions for r in d.denials]
    dry = [r for d in decisions for r in d.dry_run]
    return Decision(denials=tuple(dict.fromkeys(denials)), dry_run=tuple(dict.fromkeys(dry)))


def _version_in(pattern: ProjectPattern, version: str | None, *, unknown: bool) -> bool:
    """Whether ``version`` is in the pattern's specifier set; ``unknown`` answers for
    versions that do not parse (callers pass the fail-closed answer)."""
    if pattern.specifier is None:
        return True
    if version is None:
        return False
    try:
        return pattern.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return unknown


def _subject(name: str, version: str | None) -> str:
    return f"{name} {version}" if version else name


def release_denials(rules: Rules, name: str, version: str | None = None) -> list[str]:
    """The reasons ``rules`` (one index) refuse a project (``version=None``) or a release."""
    norm = normalize(name)
    subject = _subject(name, version)
    reasons = []
    if rules.include:
        included = any(
            fnmatchcase(norm, p.name_glob)
            and (version is None or _version_in(p, version, unknown=False))
            for p in rules.include
        )
        if not included:
            texts = ", ".join(repr(p.text) for p in rules.include)
            reasons.append(
                f"{subject!r} is not included by policy_include {texts} on {rules.index}"
            )
    for pattern in rules.exclude:
        if not fnmatchcase(norm, pattern.name_glob):
            continue
        if pattern.specifier is None or _version_in(pattern, version, unknown=True):
            reasons.append(
                f"{subject!r} is excluded by policy_exclude {pattern.text!r} on {rules.index}"
            )
    return reasons


def _selector_matches(selector: FileSelector, filename: str, tags: frozenset[Tag] | None) -> bool:
    if selector.glob is not None:
        return fnmatchcase(filename.lower(), selector.glob.lower())
    if selector.tag is None or not tags:
        return False
    py, abi, plat = selector.tag
    return all(
        fnmatchcase(t.interpreter, py) and fnmatchcase(t.abi, abi) and fnmatchcase(t.platform, plat)
        for t in tags
    )


def decide(per_index: Sequence[tuple[Mode, Sequence[str]]]) -> Decision:
    """Combine the reasons of each index on a path: enforced ones deny, dry-run ones record."""
    denials = [r for mode, reasons in per_index if mode == "enforce" for r in reasons]
    dry = [r for mode, reasons in per_index if mode == "dry-run" for r in reasons]
    return Decision(denials=tuple(denials), dry_run=tuple(dry))


def _combine(path: Sequence[Rules], per_index: list[list[str]]) -> Decision:
    return decide([(rules.mode, rs) for rules, rs in zip(path, per_index, strict=True)])


def check_release(path: Sequence[Rules], name: str, version: str | None = None) -> Decision:
    """Check a project (``version=None``: is any of it allowed?) or one of its releases."""
    return _combine(path, [release_denials(rules, name, version) for rules in path])


@lru_cache(maxsize=65536)  # listings ask for the same file names on every request
def split_filename(filename: str) -> tuple[str, str | None, frozenset[Tag] | None]:
    """Project name, version and (for wheels) tags of a distribution file name."""
    try:
        name, version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        pass
    else:
        return name, str(version), tags
    try:
        sdist_name, sdist_version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        # legacy names (``Foo-1.0.zip``, eggs): best effort, never a pass for a bad name
        stem = filename.rsplit("/", 1)[-1]
        for ext in (".doc.zip", ".tar.gz", ".tar.bz2", ".zip", ".tgz", ".egg"):
            stem = stem.removesuffix(ext)
        legacy_name, _, legacy_version = stem.rpartition("-")
        if not legacy_name:
            return stem, None, None
        return legacy_name, legacy_version or None, None
    return sdist_name, str(sdist_version), None


def file_denials(rules: Rules, filename: str) -> list[str]:
    """The reasons ``rules`` (one index) refuse a distribution file, judged by its name."""
    name, version, tags = split_filename(filename)
    reasons = release_denials(rules, name, version)
    reasons.extend(
        f"{filename!r} is excluded by policy_exclude_files {s.text!r} on {rules.index}"
        for s in rules.exclude_files
        if _selector_matches(s, filename, tags)
    )
    return reasons


def check_file(path: Sequence[Rules], filename: str) -> Decision:
    """Check a distribution file by its name: its project, version and file selectors."""
    return _combine(path, [file_denials(rules, filename) for rules in path])


@lru_cache(maxsize=65536)
def cached_release_denials(rules: Rules, name: str, version: str | None) -> tuple[str, ...]:
    """:func:`release_denials`, memoised: listings ask the same questions on every request."""
    return tuple(release_denials(rules, name, version))


@lru_cache(maxsize=65536)
def cached_file_denials(rules: Rules, filename: str) -> tuple[str, ...]:
    """:func:`file_denials`, memoised (rules are immutable values)."""
    return tuple(file_denials(rules, filename))
