"""Command lines that run untrusted build code: bubblewrap isolation and resource limits.

Builds run package code (``setup.py``, build backends, the smoke test's imports), so the
local backend runs them with bubblewrap when it is installed: every namespace unshared (no
network), the host's system directories and the Python installation read-only, a private
``/tmp``, and only the job's directory writable. Nothing else of the host is visible, so
the server's secret file and data directory are out of reach. ``prlimit`` caps memory,
processes and core dumps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Host paths a build may read: the system, and the dynamic linker's configuration.
SYSTEM_PATHS: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES: Final = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/alternatives", "/etc/passwd")


@dataclass(frozen=True, kw_only=True, slots=True)
class Sandbox:
    """How one command runs: what it sees, its environment and its limits."""

    cwd: str
    env: Mapping[str, str]
    writable: Sequence[str] = ()
    readable: Sequence[str] = ()
    #: host paths that are symlinks (Debian's /bin -> usr/bin): (path, link target)
    symlinks: Sequence[tuple[str, str]] = ()
    memory: int | None = None
    pids: int | None = None
    extra: Sequence[str] = field(default_factory=tuple)


def bwrap_argv(bwrap: str, cmd: Sequence[str], box: Sandbox) -> list[str]:
    """``bwrap ... -- cmd``: the command isolated as described by ``box``.

    >>> argv = bwrap_argv("bwrap", ["python", "-V"], Sandbox(cwd="/w", env={"A": "1"},
    ...                   writable=["/w"], symlinks=[("/bin", "usr/bin")]))
    >>> " ".join(argv[argv.index("--clearenv"):argv.index("--bind")])
    '--clearenv --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp'
    >>> " ".join(argv[argv.index("--bind"):])
    '--bind /w /w --setenv A 1 --chdir /w -- python -V'
    """
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    links = dict(box.symlinks)
    for path in SYSTEM_PATHS:
        if path in links:
            argv += ["--symlink", links[path], path]
        elif path in box.readable:
            argv += ["--ro-bind-try", path, path]  # /lib32 and friends exist on some hosts
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - a private tmpfs
    for path in box.readable:
        if path not in SYSTEM_PATHS:
            argv += ["--ro-bind-try", path, path]
    for path in box.writable:
        argv += ["--bind", path, path]
    for key, value in sorted(box.env.items()):
        argv += ["--setenv", key, value]
    return [*argv, *box.extra, "--chdir", box.cwd, "--", *cmd]


def prlimit_argv(prlimit: str, cmd: Sequence[str], box: Sandbox) -> list[str]:
    """``prlimit --as=... --nproc=... --core=0 -- cmd`` for the box's limits.

    >>> prlimit_argv("prlimit", ["make"], Sandbox(cwd="/", env={}, memory=1024, pids=64))
    ['prlimit', '--core=0', '--as=1024', '--nproc=64', '--', 'make']
    """
    argv = [prlimit, "--core=0"]
    if box.memory:
        argv.append(f"--as={box.memory}")
    if box.pids:
        argv.append(f"--nproc={box.pids}")
    return [*argv, "--", *cmd]


def build_env(*, home: str, tmp: str, path: Sequence[str]) -> dict[str, str]:
    """The whole environment of a build: no server variables, no secrets, offline pip.

    >>> build_env(home="/w/home", tmp="/w/tmp", path=["/w/env/bin", "/usr/bin"])["PATH"]
    '/w/env/bin:/usr/bin'
    """
    return {
        "PATH": ":".join(path),
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CONFIG_FILE": "/dev/null",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }
