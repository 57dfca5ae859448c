"""Build targets: cibuildwheel-style identifiers and the wheel tags each one accepts.

A target is ``<python>-<platform>``: ``cp311-manylinux_x86_64``, ``cp313t-musllinux_aarch64``,
``cp312-win_amd64``, ``cp311-macosx_arm64``. Index options and builders name targets by
glob (``cp311-*``, ``cp3*-manylinux_x86_64``), matched against the known identifiers.

A target's accepted tags are what a CPython of that version on that platform installs,
computed with :mod:`packaging.tags` (abi3 and ``py3-none-any`` included). They decide both
whether a release already has a wheel for a target and whether a built wheel is one.
Linux targets are bounded by a policy: ``manylinux_2_28`` accepts ``manylinux_2_28`` down
to ``manylinux1``, as a glibc 2.28 system does; plain ``linux_*`` wheels (not portable)
never count.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from devpi_buildfarm.errors import InvalidTargetError

#: CPython versions a target may name (``t``: the free-threaded build, 3.13 and later).
PYTHONS: Final = tuple(
    [f"cp3{minor}" for minor in range(8, 15)] + [f"cp3{minor}t" for minor in range(13, 15)]
)
#: Platforms a target may name, by family.
LINUX_ARCHS: Final = ("x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l")
PLATFORMS: Final = (
    *(f"manylinux_{arch}" for arch in LINUX_ARCHS),
    *(f"musllinux_{arch}" for arch in LINUX_ARCHS),
    "macosx_x86_64",
    "macosx_arm64",
    "macosx_universal2",
    "win_amd64",
    "win32",
    "win_arm64",
)
KNOWN: Final = tuple(f"{python}-{platform}" for python in PYTHONS for platform in PLATFORMS)
#: Default Linux policies: the newest levels the manylinux/musllinux images build for.
DEFAULT_MANYLINUX: Final = "manylinux_2_28"
DEFAULT_MUSLLINUX: Final = "musllinux_1_2"
#: The macOS release whose CPython's accepted tags a macosx target stands for.
MACOS_VERSION: Final = (15, 0)

_POLICY = re.compile(r"^(?P<family>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)$")
_LEGACY_MANYLINUX: Final = {
    (2, 17): "manylinux2014",
    (2, 12): "manylinux2010",
    (2, 5): "manylinux1",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """One concrete build target."""

    identifier: str
    python: str
    platform: str

    @property
    def python_version(self) -> tuple[int, int]:
        digits = self.python[2:].removesuffix("t")
        return int(digits[0]), int(digits[1:])

    @property
    def free_threaded(self) -> bool:
        return self.python.endswith("t")

    @property
    def family(self) -> str:
        """``manylinux``, ``musllinux``, ``macosx`` or ``win``."""
        return "win" if self.platform == "win32" else self.platform.split("_", 1)[0]

    @property
    def arch(self) -> str:
        if self.platform == "win32":
            return "x86"
        return self.platform.split("_", 1)[1]


def parse_target(identifier: str) -> Target:
    """A known target identifier; :class:`InvalidTargetError` otherwise.

    >>> parse_target("cp311-manylinux_x86_64").python_version
    (3, 11)
    """
    python, _, platform = identifier.partition("-")
    if identifier not in KNOWN:
        msg = f"unknown target {identifier!r}; targets look like 'cp311-manylinux_x86_64'"
        raise InvalidTargetError(msg)
    return Target(identifier=identifier, python=python, platform=platform)


def expand(patterns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The known targets matching any of ``patterns`` (globs), in a stable order.

    >>> expand(["cp311-manylinux_*86*"])
    ('cp311-manylinux_x86_64', 'cp311-manylinux_i686')
    """
    return tuple(t for t in KNOWN if any(fnmatch.fnmatchcase(t, p) for p in patterns))


def pattern_problems(patterns: list[object], what: str) -> list[str]:
    """A message for each pattern in ``patterns`` that matches no known target."""
    problems = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip():
            problems.append(f"{what}: {pattern!r} is not a target pattern")
        elif not expand([pattern]):
            hint = f"; known targets look like {KNOWN[0]!r} or {PYTHONS[3]}-win_amd64"
            problems.append(f"{what}: {pattern!r} matches no known target{hint}")
    return problems


def parse_policy(policy: str) -> tuple[str, tuple[int, int]]:
    """``manylinux_2_28`` -> ``("manylinux", (2, 28))``; :class:`InvalidTargetError` otherwise."""
    match = _POLICY.match(policy)
    if match is None:
        msg = f"linux policy {policy!r} is not like 'manylinux_2_28' or 'musllinux_1_2'"
        raise InvalidTargetError(msg)
    return match["family"], (int(match["major"]), int(match["minor"]))


def linux_platforms(family: str, arch: str, level: tuple[int, int]) -> list[str]:
    """Platform tags a Linux system of ``level`` accepts, newest first (legacy aliases too).

    >>> linux_platforms("manylinux", "x86_64", (2, 17))[:3]
    ['manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux_2_16_x86_64']
    """
    major, newest = level
    if family == "musllinux":
        return [f"musllinux_{major}_{minor}_{arch}" for minor in range(newest, -1, -1)]
    oldest = 5 if arch in ("x86_64", "i686") else 17  # older manylinux exists only for x86
    platforms = []
    for minor in range(newest, oldest - 1, -1):
        platforms.append(f"manylinux_{major}_{minor}_{arch}")
        legacy = _LEGACY_MANYLINUX.get((major, minor))
        if legacy is not None:
            platforms.append(f"{legacy}_{arch}")
    return platforms


def platform_tags(target: Target, policy: str | None = None) -> list[str]:
    """The platform tags ``target`` accepts (``policy`` bounds Linux targets)."""
    if target.family in ("manylinux", "musllinux"):
        default = DEFAULT_MANYLINUX if target.family == "manylinux" else DEFAULT_MUSLLINUX
        family, level = parse_policy(policy or default)
        if family != target.family:
            msg = f"policy {policy!r} does not apply to target {target.identifier!r}"
            raise InvalidTargetError(msg)
        return linux_platforms(family, target.arch, level)
    if target.family == "macosx":
        return list(mac_platforms(MACOS_VERSION, target.arch))
    return [target.platform]


@lru_cache(maxsize=256)
def accepted_tags(identifier: str, policy: str | None = None) -> frozenset[Tag]:
    """Every wheel tag a CPython of ``identifier``'s version and platform installs."""
    target = parse_target(identifier)
    platforms = platform_tags(target, policy)
    version = target.python_version
    abi = f"cp{version[0]}{version[1]}{'t' if target.free_threaded else ''}"
    tags = set(cpython_tags(version, abis=[abi], platforms=platforms))
    tags.update(
        compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}", platforms=platforms)
    )
    return frozenset(tags)


def host_target(python: tuple[int, int], machine: str, libc: tuple[str, str]) -> tuple[str, str]:
    """The target of a Linux host and its policy from ``sys.version_info``, the machine
    (``platform.machine()``) and ``platform.libc_ver()``.

    >>> host_target((3, 11), "x86_64", ("glibc", "2.36"))
    ('cp311-manylinux_x86_64', 'manylinux_2_36')
    """
    family = "manylinux" if libc[0] == "glibc" else "musllinux"
    level = libc[1].split(".")[:2] if libc[1] else ["1", "2"]
    identifier = f"cp{python[0]}{python[1]}-{family}_{machine}"
    parse_target(identifier)
    return identifier, f"{family}_{level[0]}_{level[1]}"


def pip_platform_args(identifier: str, policy: str | None = None) -> list[str]:
    """``pip download`` options that fetch wheels for ``identifier`` rather than for the
    host that runs pip (another architecture, Python version or libc).

    >>> args = pip_platform_args("cp312-manylinux_aarch64", "manylinux_2_28")
    >>> args[:4]
    ['--platform', 'manylinux_2_28_aarch64', '--platform', 'manylinux_2_27_aarch64']
    >>> " ".join(args[-10:])
    '--python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none'
    """
    target = parse_target(identifier)
    major, minor = target.python_version
    abi = f"cp{major}{minor}{'t' if target.free_threaded else ''}"
    args = [arg for tag in platform_tags(target, policy) for arg in ("--platform", tag)]
    args += ["--python-version", f"{major}.{minor}", "--implementation", "cp", "--abi", abi]
    if not target.free_threaded:
        args += ["--abi", "abi3"]
    return [*args, "--abi", "none"]
