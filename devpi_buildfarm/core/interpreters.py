"""Which interpreters a build host or image offers, and which one builds a target.

A remote host or a container image is probed once (a shell script: the machine, the word
size and the versioned CPython executables it has); these pure functions read the answer.
The driver needs CPython 3.11 or newer (its *tool* interpreter); a target's wheel is built
with that target's CPython, wherever the image keeps it: ``/opt/python/cp311-cp311/bin/python``
in the manylinux/musllinux images, ``python3.11`` on ``PATH`` elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from devpi_buildfarm.core.targets import Target

#: prints ``uname -m``, the userland's word size and every versioned CPython it finds
PROBE_SCRIPT: Final = (
    "uname -m; getconf LONG_BIT 2>/dev/null || echo 64; "
    "for p in /opt/python/cp3*/bin/python /usr/local/bin/python3.* /usr/bin/python3.*; do "
    '[ -x "$p" ] && echo "python $p"; done; true'
)
TOOL_MINIMUM: Final = (3, 11)
#: interpreter paths used on command lines: absolute, no spaces or shell characters
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]+$")
_VERSIONED = re.compile(r"(?:/opt/python/cp3(?P<opt>\d+)-cp3\d+(?P<optt>t?)/bin/python"
                        r"|/python3\.(?P<minor>\d+)(?P<t>t?))$")  # fmt: skip
#: what ``uname -m`` says, by the word size of the userland, as a target's architecture
_MACHINES: Final = {("x86_64", 32): "i686", ("i386", 32): "i686", ("i686", 32): "i686",
                    ("aarch64", 32): "armv7l", ("armv8l", 32): "armv7l",
                    ("armv7l", 32): "armv7l", ("arm64", 64): "aarch64"}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe:
    """What a build host or image runs: its architecture (a target's spelling) and its
    CPythons by (minor version, free-threaded)."""

    arch: str
    pythons: dict[tuple[int, bool], str] = field(default_factory=dict)


def parse_probe(text: str) -> Probe:
    """The answer of :data:`PROBE_SCRIPT`.

    >>> probe = parse_probe("x86_64\\n32\\npython /usr/bin/python3.11\\npython /usr/bin/python3\\n")
    >>> probe.arch, probe.pythons
    ('i686', {(11, False): '/usr/bin/python3.11'})
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[1].isdigit():  # noqa: PLR2004 - machine and word size
        msg = f"unexpected probe answer: {text[:200]!r}"
        raise ValueError(msg)
    machine, bits = lines[0], int(lines[1])
    pythons: dict[tuple[int, bool], str] = {}
    for line in lines[2:]:
        path = line.removeprefix("python ").strip()
        match = _VERSIONED.search(path)
        if not line.startswith("python ") or match is None or not _SAFE_PATH.match(path):
            continue
        minor = int(match["opt"] or match["minor"])
        free = bool(match["optt"] or match["t"])
        pythons.setdefault((minor, free), path)  # /opt/python first: the manylinux layout
    return Probe(arch=_MACHINES.get((machine, bits), machine), pythons=pythons)


def tool_python(probe: Probe) -> str | None:
    """The newest CPython >= 3.11 (not free-threaded) to run the driver with, if any.

    >>> tool_python(parse_probe("aarch64\\n64\\npython /opt/python/cp310-cp310/bin/python\\n"
    ...                         "python /opt/python/cp313-cp313/bin/python\\n"))
    '/opt/python/cp313-cp313/bin/python'
    """
    usable = [(minor, path) for (minor, free), path in probe.pythons.items()
              if not free and minor >= TOOL_MINIMUM[1]]  # fmt: skip
    return max(usable)[1] if usable else None


def target_python(probe: Probe, target: Target) -> str | None:
    """The interpreter that builds ``target`` on the probed host, if it has one."""
    major, minor = target.python_version
    if major != 3:  # noqa: PLR2004
        return None
    return probe.pythons.get((minor, target.free_threaded))


def problem(probe: Probe, target: Target) -> str | None:
    """Why the probed host cannot build ``target`` (``None``: it can)."""
    if probe.arch != target.arch:
        return f"it runs {probe.arch}, the target needs {target.arch}"
    if tool_python(probe) is None:
        return "it has no CPython 3.11 or newer to run the build driver with"
    if target_python(probe, target) is None:
        found = ", ".join(f"3.{m}{'t' if t else ''}" for m, t in sorted(probe.pythons)) or "none"
        return f"it has no CPython for {target.python} (found: {found})"
    return None


def native_archs(machine: str) -> tuple[str, ...]:
    """Target architectures a host of ``machine`` (``uname -m`` or Docker's ``Architecture``)
    runs without emulation.

    >>> native_archs("x86_64"), native_archs("arm64")
    (('x86_64', 'i686'), ('aarch64', 'armv7l'))
    """
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return {"x86_64": ("x86_64", "i686"), "aarch64": ("aarch64", "armv7l")}.get(arch, (arch,))


def runs(probe: Probe | None, target: Target, *, native: tuple[str, ...], where: str,
         trouble: str | None = None) -> str:  # fmt: skip
    """How a probed image or host runs ``target``: ``native``, ``emulated (...)`` or
    ``cannot run: <why>`` (``trouble``: why it could not even be probed; ``native``: the
    architectures its machine runs without emulation; ``where``: how the answer names it).

    >>> from devpi_buildfarm.core.targets import parse_target
    >>> probe = parse_probe("aarch64\\n64\\npython /usr/bin/python3.11\\n")
    >>> runs(probe, parse_target("cp311-manylinux_aarch64"), native=("x86_64",), where="x")
    'emulated (aarch64 on x86_64, binfmt_misc)'
    >>> runs(None, parse_target("cp311-manylinux_aarch64"), native=(), where="x", trouble="down")
    'cannot run: down'
    """
    if trouble is not None or probe is None:
        return f"cannot run: {trouble}"
    why = problem(probe, target)
    if why is not None:
        return f"cannot run: {where}: {why}"
    if probe.arch in native or not native:
        return "native"
    return f"emulated ({probe.arch} on {native[0]}, binfmt_misc)"
