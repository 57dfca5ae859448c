"""The target a closure report resolves for, and which releases lack a wheel for it.

``--python-version 3.11 --platform manylinux_2_28_x86_64`` makes pip resolve binary-only
(``--only-binary=:all:``; pip refuses either option without it). A Linux platform stands for
the system it names: ``manylinux_2_28_x86_64`` also accepts ``manylinux_2_27`` down to
``manylinux1`` wheels, as pip on a glibc 2.28 system does; pip's own ``--platform`` takes
the tag literally, so the report passes every accepted platform to pip and checks wheels
against the same list. Without ``--python-version`` the client's own Python version is
used; without ``--platform`` the client's own platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

_LINUX: Final = re.compile(
    r"^(?P<family>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$"
)
_MACOS: Final = re.compile(r"^macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_LEGACY: Final = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
_ALIASES: Final = {version: name for name, version in _LEGACY.items()}
_GLIBC2: Final = 2  # manylinux_2_* levels are glibc 2 minor versions
_PYTHON: Final = re.compile(r"^3\.(\d{1,2})$")


def parse_python_version(text: str) -> tuple[int, int]:
    """``"3.11"`` -> ``(3, 11)``; ``ValueError`` for anything else.

    >>> parse_python_version("3.12")
    (3, 12)
    """
    found = _PYTHON.match(text.strip())
    if found is None:
        msg = f"python version {text!r}: expected MAJOR.MINOR, e.g. '3.11'"
        raise ValueError(msg)
    return 3, int(found.group(1))


def expand_platform(platform: str) -> tuple[str, ...]:
    """The platform tags a system of ``platform`` installs, newest first.

    >>> expand_platform("manylinux_2_17_aarch64")
    ('manylinux_2_17_aarch64', 'manylinux2014_aarch64')
    >>> expand_platform("win_amd64")
    ('win_amd64',)
    """
    family, _, arch = platform.partition("_")
    if family in _LEGACY:
        major, minor = _LEGACY[family]
        platform = f"manylinux_{major}_{minor}_{arch}"
    linux = _LINUX.match(platform)
    if linux is not None:
        major, minor, arch = int(linux["major"]), int(linux["minor"]), linux["arch"]
        if linux["family"] == "musllinux":
            return tuple(f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1))
        # glibc 2.17 is the oldest manylinux level outside x86 (PEP 599), 2.5 on x86
        oldest = 5 if arch in ("x86_64", "i686") else 17
        tags: list[str] = []
        for m in range(minor, oldest - 1, -1) if major == _GLIBC2 else [minor]:
            tags.append(f"manylinux_{major}_{m}_{arch}")
            if (major, m) in _ALIASES:
                tags.append(f"{_ALIASES[major, m]}_{arch}")
        return tuple(tags)
    mac = _MACOS.match(platform)
    if mac is not None:
        version = (int(mac["major"]), int(mac["minor"]))
        return tuple(mac_platforms(version, mac["arch"]))
    return (platform,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What to resolve for: ``None``/empty means the client's own Python/platform."""

    python_version: tuple[int, int] | None = None
    platforms: tuple[str, ...] = ()

    @property
    def binary_only(self) -> bool:
        return self.python_version is not None or bool(self.platforms)

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        """Every platform tag accepted, without duplicates, in order."""
        return tuple(dict.fromkeys(t for p in self.platforms for t in expand_platform(p)))

    def pip_args(self) -> list[str]:
        """The options that make pip resolve for this target."""
        if not self.binary_only:
            return []
        args = ["--only-binary=:all:"]
        if self.python_version is not None:
            args += ["--python-version", "{}.{}".format(*self.python_version)]
        for platform in self.pip_platforms:
            args += ["--platform", platform]
        return args

    def tags(self, own_python: tuple[int, int], own_platforms: Sequence[str]) -> frozenset[Tag]:
        """The wheel tags pip accepts for this target (CPython, abi3 and pure wheels)."""
        python = self.python_version or own_python
        platforms = list(self.pip_platforms or own_platforms)
        interpreter = "cp{}{}".format(*python)
        found = set(cpython_tags(python, platforms=platforms))
        found.update(compatible_tags(python, interpreter, platforms))
        return frozenset(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingWheel:
    """A resolved release with no wheel for the target; ``files`` are the ones it has."""

    name: str
    version: str
    files: tuple[str, ...]


def _release_files(filenames: Iterable[str], version: str) -> list[str]:
    wanted = Version(version)
    found = []
    for filename in filenames:
        try:
            if filename.endswith(".whl"):
                file_version = parse_wheel_filename(filename)[1]
            else:
                file_version = parse_sdist_filename(filename)[1]
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if file_version == wanted:
            found.append(filename)
    return found


def has_wheel(filenames: Iterable[str], tags: frozenset[Tag]) -> bool:
    """Whether any of ``filenames`` is a wheel pip installs for ``tags``."""
    for filename in filenames:
        if not filename.endswith(".whl"):
            continue
        try:
            wheel_tags = parse_wheel_filename(filename)[3]
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if not wheel_tags.isdisjoint(tags):
            return True
    return False


def missing_wheels(
    releases: Iterable[tuple[str, str]],
    files: Mapping[str, Sequence[str]],
    tags: frozenset[Tag],
) -> list[MissingWheel]:
    """The ``(name, version)`` releases without a wheel for ``tags``.

    ``files`` maps a (canonical) project name to its file names on the index, all versions.
    """
    missing = []
    for name, version in releases:
        own = _release_files(files.get(canonicalize_name(name), ()), version)
        if not has_wheel(own, tags):
            missing.append(MissingWheel(name=name, version=version, files=tuple(own)))
    return missing
