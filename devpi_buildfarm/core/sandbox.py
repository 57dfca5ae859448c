"""Command lines that start the build driver inside bubblewrap, as an unprivileged user.

The sandbox sees the host's system directories and the Python installation read-only,
a size-capped tmpfs at ``/job`` (the build's disk: ``TMPDIR`` and ``HOME`` are in it), a
256 MiB tmpfs at ``/tmp`` and a 64 MiB one at ``/dev/shm``; the rest of ``/`` is
read-only. Every namespace is unshared: no network (loopback included), no host
processes, no other job. Nothing of the host is writable and no host directory of a job
exists: inputs arrive on stdin, the wheel leaves on stdout (:mod:`.framing`).

When devpi-server runs as root, the launcher (``unshare`` + ``sh``, trusted) first binds
the read-only paths into a private mount namespace where the build user can reach them
(``/root`` is not traversable by others), puts itself into the job's cgroups, then drops to
the build user with ``setpriv`` (no capabilities, no groups) before bubblewrap starts:
process limits bind, and the build owns nothing on the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Host paths a build may read: the system, and the dynamic linker's configuration.
SYSTEM_PATHS: Final = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES: Final = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/alternatives")
JOB_DIR: Final = "/job"
SHM_BYTES: Final = 64 * 1024 * 1024
#: the sandbox's own /tmp (builds are told TMPDIR=/job/tmp; this is for tools that insist)
TMP_DIR: Final = "/tmp"  # noqa: S108 - a tmpfs of the sandbox's, never the host's
TMP_BYTES: Final = 256 * 1024 * 1024
#: binds ``$1 -> stage`` pairs, joins cgroups, then execs the rest (all arguments, no
#: interpolation: paths never become shell code)
LAUNCH_SCRIPT: Final = (
    'set -e; stage="$1"; n="$2"; shift 2; mount -t tmpfs -o size=1m,mode=0755 none "$stage"; '
    'i=0; while [ "$i" -lt "$n" ]; do if [ -d "$1" ]; then mkdir "$stage/$i"; '
    'else : > "$stage/$i"; fi; mount --bind "$1" "$stage/$i"; '
    'shift; i=$((i+1)); done; while [ "$1" != "--" ]; do echo $$ > "$1"; shift; done; '
    'shift; exec "$@"'
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Sandbox:
    """What the driver sees and how it is limited."""

    env: Mapping[str, str]
    #: host paths visible read-only at the same path inside
    readable: Sequence[str] = ()
    #: host paths that are symlinks (Debian's /bin -> usr/bin): (path, link target)
    symlinks: Sequence[tuple[str, str]] = ()
    disk: int | None = None
    memory: int | None = None
    pids: int | None = None
    extra: Sequence[str] = field(default_factory=tuple)
    #: host paths visible read-only at another path inside: (host path, path inside), e.g.
    #: the directories of an image's root filesystem instead of the host's system
    mounts: Sequence[tuple[str, str]] = ()

    def staged(self) -> list[str]:
        """Every host path the sandbox binds (the launcher stages each as root)."""
        links = dict(self.symlinks)
        paths = [p for p in self.readable if p not in links]
        return [*paths, *(src for src, _ in self.mounts)]


@dataclass(frozen=True, kw_only=True, slots=True)
class Drop:
    """Running as root: the user to become, a mount point for staging, cgroup files."""

    uid: int
    gid: int
    stage: str
    cgroup_procs: Sequence[str] = ()


def bwrap_argv(
    bwrap: str, cmd: Sequence[str], box: Sandbox, sources: Mapping[str, str]
) -> list[str]:
    """``bwrap ... -- cmd``; ``sources`` maps a readable path to where the launcher staged it.

    >>> argv = bwrap_argv("bwrap", ["python", "-V"], Sandbox(env={"A": "1"},
    ...                   readable=["/usr", "/opt/py"], symlinks=[("/bin", "usr/bin")],
    ...                   disk=1024), {})
    >>> " ".join(argv[argv.index("--symlink"):argv.index("--ro-bind-try")])
    '--symlink usr/bin /bin --size 268435456 --tmpfs /tmp'
    >>> " ".join(argv[argv.index("--ro-bind-try"):argv.index("--proc")])
    '--ro-bind-try /usr /usr --ro-bind-try /opt/py /opt/py'
    >>> " ".join(argv[argv.index("/dev/shm") + 1:argv.index("--setenv")])
    '--size 1024 --tmpfs /job --dir /job/tmp --dir /job/home --remount-ro /dev --remount-ro /'
    """
    # --disable-userns: no user namespaces inside (a kernel attack surface builds never need)
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--clearenv"]  # fmt: skip

    links = dict(box.symlinks)
    argv += [arg for path, target in links.items() for arg in ("--symlink", target, path)]
    # /tmp first: read-only paths that live under /tmp (a venv there) are bound over it
    argv += ["--size", str(TMP_BYTES), "--tmpfs", TMP_DIR]
    for path in box.readable:
        if path not in links:
            argv += ["--ro-bind-try", sources.get(path, path), path]
    for source, inside in box.mounts:
        argv += ["--ro-bind", sources.get(source, source), inside]
    shm = "/dev/shm"  # noqa: S108 - the sandbox's own, size-capped
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", shm]
    if box.disk:
        argv += ["--size", str(box.disk)]
    argv += ["--tmpfs", JOB_DIR, "--dir", f"{JOB_DIR}/tmp", "--dir", f"{JOB_DIR}/home"]  # noqa: S108
    # /dev is a tmpfs of bubblewrap's: read-only, so only the capped /job and /dev/shm
    # take writes (device nodes such as /dev/null still work)
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    for key, value in sorted(box.env.items()):
        argv += ["--setenv", key, value]
    return [*argv, *box.extra, "--chdir", JOB_DIR, "--", *cmd]


def prlimit_argv(prlimit: str, box: Sandbox, *, per_process: bool) -> list[str]:
    """``prlimit --core=0 [--as=... --nproc=...] --``: per-process limits where no cgroup
    holds the build's memory and processes.

    >>> prlimit_argv("prlimit", Sandbox(env={}, memory=1024, pids=64), per_process=True)
    ['prlimit', '--core=0', '--as=1024', '--nproc=64', '--']
    """
    argv = [prlimit, "--core=0"]
    if per_process and box.memory:
        argv.append(f"--as={box.memory}")
    if per_process and box.pids:
        argv.append(f"--nproc={box.pids}")
    return [*argv, "--"]


def launch_argv(inner: Sequence[str], box: Sandbox, drop: Drop, *, bwrap: str) -> list[str]:
    """The root launcher around bubblewrap: private mounts, cgroups, ``setpriv``.

    >>> argv = launch_argv(["python"], Sandbox(env={}, readable=["/root/py"]),
    ...                    Drop(uid=65534, gid=65534, stage="/tmp/s", cgroup_procs=["/cg"]),
    ...                    bwrap="bwrap")
    >>> argv[:4], argv[argv.index("launch") + 1:argv.index("setpriv")]
    (['unshare', '--mount', '--propagation', 'private'], ['/tmp/s', '1', '/root/py', '/cg', '--'])
    >>> argv[argv.index("--ro-bind-try") + 1:argv.index("--ro-bind-try") + 3]
    ['/tmp/s/0', '/root/py']
    """
    staged = box.staged()
    sources = {path: f"{drop.stage}/{n}" for n, path in enumerate(staged)}
    setpriv = ["setpriv", f"--reuid={drop.uid}", f"--regid={drop.gid}", "--clear-groups",
               "--inh-caps=-all", "--bounding-set=-all", "--"]  # fmt: skip
    return [
        "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", LAUNCH_SCRIPT,
        "launch", drop.stage, str(len(staged)), *staged, *drop.cgroup_procs, "--",
        *setpriv, *bwrap_argv(bwrap, inner, box, sources),
    ]  # fmt: skip


def build_env(path: Sequence[str]) -> dict[str, str]:
    """The whole environment of a build: no server variables, no secrets, offline pip.

    >>> build_env(["/job/env/bin", "/usr/bin"])["PATH"]
    '/job/env/bin:/usr/bin'
    """
    return {
        "PATH": ":".join(path),
        "HOME": f"{JOB_DIR}/home",
        "TMPDIR": f"{JOB_DIR}/tmp",  # noqa: S108 - inside the sandbox: /job/tmp
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CONFIG_FILE": "/dev/null",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "DEVPI_BUILDFARM_JOB": JOB_DIR,
    }
