"""What differs between build hosts reached over SSH: Linux, macOS and Windows.

Only Linux hosts are tested here (an sshd on loopback); macOS and Windows hosts follow
the same steps with their own shell, paths, interpreters and repair tool, and these small
functions are where they differ (each has unit tests). The host is probed once with
:func:`probe_command`; each session's commands come from :func:`driver_command`.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from devpi_buildfarm.core.targets import Target

#: ``uname``-less systems answer the probe with the Windows branch
FAMILIES: Final = {"manylinux": "linux", "musllinux": "linux", "macosx": "macos", "win": "windows"}


def family_of(target: Target) -> str:
    """``linux``, ``macos`` or ``windows``: the kind of host that builds ``target``."""
    return FAMILIES[target.family]


def quote(family: str, word: str) -> str:
    """One argument for the host's shell (POSIX ``sh``, or PowerShell on Windows).

    >>> quote("linux", "a b'c"), quote("windows", "C:\\\\x y\\\\it's")
    ('\\'a b\\'"\\'"\\'c\\'', "'C:\\\\x y\\\\it''s'")
    """
    if family == "windows":  # PowerShell also ends a quoted string at the typographic quotes
        for mark in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
            word = word.replace(mark, mark * 2)
        return f"'{word}'"
    return shlex.quote(word)


def job_root(family: str) -> str:
    """Where per-job directories are made (each by ``mktemp``, removed after the job)."""
    return {"windows": "$env:TEMP"}.get(family, "/tmp")  # noqa: S108 - on the build host


def make_job_dir(family: str) -> str:
    """A command printing the path of a fresh private job directory."""
    if family == "windows":
        return ("$d = Join-Path $env:TEMP ('devpi-buildfarm-' + [guid]::NewGuid()); "
                "New-Item -ItemType Directory $d | Out-Null; Write-Output $d")  # fmt: skip
    return "umask 077 && mktemp -d /tmp/devpi-buildfarm-XXXXXXXX"


def remove_dir(family: str, path: str) -> str:
    """A command removing a job directory, whatever it holds (links are not followed)."""
    if family == "windows":
        return f"Remove-Item -Recurse -Force -LiteralPath {quote(family, path)}"
    # the build may have made parts read-only: give them back to the owner first
    q = quote(family, path)
    return f"chmod -R u+rwX {q} 2>/dev/null; rm -rf {q}"


def interpreter_candidates(family: str, target: Target) -> list[str]:
    """Where a target's CPython usually is on such a host, most specific first.

    >>> from devpi_buildfarm.core.targets import parse_target
    >>> interpreter_candidates("macos", parse_target("cp312-macosx_arm64"))[0]
    '/Library/Frameworks/Python.framework/Versions/3.12/bin/python3.12'
    >>> interpreter_candidates("windows", parse_target("cp313t-win_amd64"))[0]
    'C:\\\\Python313\\\\python3.13t.exe'
    """
    major, minor = target.python_version
    t = "t" if target.free_threaded else ""
    if family == "windows":
        name = f"python{major}.{minor}{t}.exe" if t else "python.exe"
        return [f"C:\\Python{major}{minor}\\{name}", f"py -{major}.{minor}{t}"]
    version = f"{major}.{minor}"
    if family == "macos":
        framework = "PythonT" if t else "Python"
        return [(f"/Library/Frameworks/{framework}.framework/Versions/{version}/bin/"
                 f"python{version}{t}"), f"/opt/homebrew/bin/python{version}{t}",
                f"/usr/local/bin/python{version}{t}"]  # fmt: skip
    return [f"/opt/python/cp{major}{minor}-cp{major}{minor}{t}/bin/python",
            f"/usr/local/bin/python{version}{t}", f"/usr/bin/python{version}{t}"]  # fmt: skip


def repair_argv(family: str, plat: str | None, wheel: str, out: str) -> list[str] | None:
    """The repair tool's command (run with the driver's tool interpreter), ``None`` for
    none: auditwheel on Linux, delocate on macOS, delvewheel on Windows.

    >>> repair_argv("linux", "manylinux_2_28_x86_64", "w.whl", "out")
    ['auditwheel', 'repair', '--plat', 'manylinux_2_28_x86_64', '-w', 'out', 'w.whl']
    >>> repair_argv("macos", None, "w.whl", "out")
    ['delocate.cmd.delocate_wheel', '-w', 'out', 'w.whl']
    """
    if family == "linux":
        return ["auditwheel", "repair", *(["--plat", plat] if plat else []), "-w", out, wheel]
    if family == "macos":
        return ["delocate.cmd.delocate_wheel", "-w", out, wheel]
    if family == "windows":
        return ["delvewheel", "repair", "-w", out, wheel]
    return None


def limited(  # noqa: PLR0913 - the command and each of its limits
    family: str, argv: Sequence[str], *, env: Mapping[str, str], seconds: float,
    memory: int, processes: int, file_bytes: int,
) -> str:  # fmt: skip
    """``argv`` as one command line for the host's shell, in a clean environment, under the
    builder's timeout and per-process limits (POSIX ``ulimit``; Windows has none here: a
    job object is the host's to set up).

    The limits are set by ``/bin/sh``, whatever the user's login shell: POSIX counts
    ``ulimit -f`` in 512-byte blocks (dash, ksh, zsh, bash in POSIX mode), bash otherwise
    in 1024-byte ones.

    >>> limited("linux", ["python", "-V"], env={"A": "1"}, seconds=60, memory=2**30,
    ...         processes=64, file_bytes=2**20)  # doctest: +NORMALIZE_WHITESPACE
    "exec /bin/sh -c 'ulimit -c 0 && ulimit -v 1048576 && ulimit -f 2048 && \
{ ulimit -u 64 2>/dev/null || ulimit -p 64; } && exec env -i A=1 timeout -s KILL 60 python -V'"
    """
    if family == "windows":
        sets = "; ".join(f"$env:{k} = {quote(family, v)}" for k, v in sorted(env.items()))
        return f"{sets}; & {' '.join(quote(family, a) for a in argv)}"
    # one limit per ulimit (dash takes one); processes: -u in bash and zsh, -p in dash
    limits = (f"ulimit -c 0 && ulimit -v {memory // 1024} && ulimit -f "
              f"{max(1, file_bytes // 512)} && {{ ulimit -u {processes} 2>/dev/null || "
              f"ulimit -p {processes}; }}")  # fmt: skip
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
    command = " ".join(shlex.quote(a) for a in argv)
    inner = f"{limits} && exec env -i {assignments} timeout -s KILL {seconds:g} {command}"
    return f"exec /bin/sh -c {shlex.quote(inner)}"


#: what :func:`host_layout` reads: merged-/usr links, real system directories, bubblewrap
LAYOUT_SCRIPT: Final = (
    "for p in /usr /bin /sbin /lib /lib32 /lib64 /libx32 /opt; do "
    'if [ -L "$p" ]; then echo "link $p $(readlink "$p")"; '
    'elif [ -d "$p" ]; then echo "dir $p"; fi; done; '
    'command -v bwrap | sed "s/^/bwrap /"; true'
)


def host_layout(text: str) -> tuple[list[tuple[str, str]], list[str], str | None]:
    """The answer of :data:`LAYOUT_SCRIPT`: (symlinks, directories, bwrap's path).

    >>> host_layout("dir /usr\\nlink /bin usr/bin\\nbwrap /usr/bin/bwrap\\nlink /x ../etc\\n")
    ([('/bin', 'usr/bin')], ['/usr'], '/usr/bin/bwrap')
    """
    links, dirs, bwrap = [], [], None
    for line in text.splitlines():
        kind, _, rest = line.strip().partition(" ")
        path, _, target = rest.partition(" ")
        safe = target.startswith("usr/") and ".." not in target and " " not in target
        if kind == "link" and path in SYSTEM and safe:
            links.append((path, target))
        elif kind == "dir" and path in SYSTEM:
            dirs.append(path)
        elif kind == "bwrap" and path.startswith("/") and not target:
            bwrap = path
    return links, dirs, bwrap


SYSTEM: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")
