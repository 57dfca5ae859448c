"""How a local build is confined: bubblewrap, the build user, cgroups or rlimits.

Decided once per server and written into every job's ``isolation`` field exactly as it
held, e.g. ``bubblewrap(uid=65534, network=none, disk=4294967296)
cgroup-v1(memory=2147483648, pids=512) timeout=1800s``. Running as root, builds run as the
build user (``--buildfarm-build-user``, default ``nobody``) in a cgroup of their own;
running as another user, they run as that user (bubblewrap maps no other) with
per-process rlimits (``rlimits(as=..., nproc=...)``), which the field then says.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import sys
import sysconfig
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import devpi_buildfarm
import devpi_foundry_common
from devpi_buildfarm.adapters import cgroups
from devpi_buildfarm.core import sandbox
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devpi_buildfarm.adapters.rootfs import RootImage
    from devpi_buildfarm.core.ports import BuildRequest

DRIVER = ("-I", "-m", "devpi_buildfarm.inside.driver")
SYSTEM_BIN = ("/usr/local/bin", "/usr/bin", "/bin")


class UnisolatedError(BuildError):
    """No bubblewrap and unisolated builds not allowed."""


@dataclass(kw_only=True, slots=True)
class Box:
    """One sandbox session: its command line, environment and what it promised."""

    argv: list[str]
    env: dict[str, str]
    description: str
    cgroup: cgroups.Cgroup | None = None
    memory: int | None = None
    notes: list[str] = field(default_factory=list)

    def check(self, stage: str) -> None:
        """:class:`BuildError` naming the limit the kernel enforced, if it did."""
        if self.cgroup is not None and self.cgroup.oom_killed():
            msg = f"the build exceeded its memory limit of {self.memory} bytes and was killed"
            raise BuildError(msg, stage=stage, permanent=True)


class Confinement:
    """This host's way of confining builds."""

    def __init__(
        self, *, allow_unisolated: bool, build_user: str = "nobody", scope: str = "default"
    ) -> None:
        self.allow_unisolated = allow_unisolated
        self.scope = scope
        self.bwrap = shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit")
        self.root = os.geteuid() == 0
        self.cgroups = cgroups.available() if self.root else None
        self.uid, self.gid = _user(build_user) if self.root else (os.getuid(), os.getgid())

    @property
    def kind(self) -> str:
        return "bubblewrap" if self.bwrap else "none"

    def refuse_unless_possible(self) -> None:
        if self.bwrap is None and not self.allow_unisolated:
            msg = (
                "bubblewrap (bwrap) is not installed and unisolated builds are not allowed; "
                "install bubblewrap or start devpi-server with --buildfarm-allow-unisolated"
            )
            raise UnisolatedError(msg, stage="isolation")

    def _stage_dir(self) -> Path:
        """The empty directory each launcher mounts its private tmpfs on (one per farm; a
        mount point only inside the launcher's own mount namespace). Made by root, 0755,
        never a link: a planted one is replaced."""
        path = Path(tempfile.gettempdir()) / f"devpi-buildfarm-mnt-{self.scope}"
        try:
            path.mkdir(mode=0o755)
        except FileExistsError:  # earlier, or by a session starting at the same moment
            pass
        else:
            return path
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return path
        fresh = Path(tempfile.mkdtemp(prefix=f"devpi-buildfarm-mnt-{self.scope}-"))
        fresh.chmod(0o755)  # the build user passes through it to the staged paths
        return fresh

    @contextlib.contextmanager
    def session(
        self, request: BuildRequest, name: str, image: RootImage | None = None
    ) -> Iterator[Box]:
        """One sandbox session, of this host's system or of ``image``'s root filesystem."""
        limits = request.limits
        python = str(Path(sys.executable).absolute())
        if self.bwrap is None:  # allowed above: the driver straight on the host
            with tempfile.TemporaryDirectory(prefix="devpi-buildfarm-unisolated-") as tmp:
                env = sandbox.build_env(SYSTEM_BIN) | {"DEVPI_BUILDFARM_JOB": tmp}
                env |= {"HOME": f"{tmp}/home", "TMPDIR": f"{tmp}/tmp"}  # noqa: S108
                yield Box(argv=[python, *DRIVER], env=env,
                          description=f"none timeout={request.timeout:g}s")  # fmt: skip
            return
        box = sandbox.Sandbox(
            env=sandbox.build_env([str(Path(python).parent), *SYSTEM_BIN]),
            readable=readable_paths(), symlinks=_system_symlinks(), disk=limits.disk,
            memory=limits.memory, pids=limits.pids,
        )  # fmt: skip
        driver = [python, *DRIVER]
        prlimit = self.prlimit
        if image is not None:
            box = image.sandbox(disk=limits.disk, memory=limits.memory, pids=limits.pids)
            driver = image.driver()
            prlimit = "/usr/bin/prlimit" if (image.path / "usr/bin/prlimit").exists() else None
        cgroup = None
        head = (f"bubblewrap(uid={self.uid}, network=none, disk={limits.disk}, "
                f"tmp={sandbox.TMP_BYTES}, shm={sandbox.SHM_BYTES})")  # fmt: skip
        parts = [head]
        with contextlib.ExitStack() as stack:
            if self.cgroups and limits.memory and limits.pids:
                cgroup = cgroups.create(self.scope, f"{name}-{uuid.uuid4().hex[:8]}",
                                        memory=limits.memory, pids=limits.pids)  # fmt: skip
                stack.callback(cgroup.remove)
                parts.append(cgroup.describe())
            inner = driver
            if prlimit is not None:
                inner = [*sandbox.prlimit_argv(prlimit, box, per_process=cgroup is None),
                         *inner]  # fmt: skip
                if cgroup is None:
                    parts.append(f"rlimits(as={limits.memory}, nproc={limits.pids})")
            if self.root:
                stage = self._stage_dir()
                if stage.name != f"devpi-buildfarm-mnt-{self.scope}":  # a fallback: ours alone
                    stack.callback(shutil.rmtree, stage, ignore_errors=True)
                drop = sandbox.Drop(uid=self.uid, gid=self.gid, stage=str(stage),
                                    cgroup_procs=cgroup.procs if cgroup else ())  # fmt: skip
                argv = sandbox.launch_argv(inner, box, drop, bwrap=self.bwrap)
            else:
                argv = sandbox.bwrap_argv(self.bwrap, inner, box, {})
            parts.append(f"timeout={request.timeout:g}s")
            yield Box(argv=argv, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
                      description=" ".join(parts), cgroup=cgroup, memory=limits.memory)  # fmt: skip


def _user(spec: str) -> tuple[int, int]:
    if ":" in spec:
        uid_text, _, gid_text = spec.partition(":")
        uid, gid = int(uid_text), int(gid_text)
    else:
        entry = pwd.getpwuid(int(spec)) if spec.isdigit() else pwd.getpwnam(spec)
        uid, gid = entry.pw_uid, entry.pw_gid
    if uid == 0 or gid == 0:
        msg = f"build user {spec!r} is root; builds must run unprivileged"
        raise ValueError(msg)
    return uid, gid


def _system_symlinks() -> list[tuple[str, str]]:
    return [(p, str(Path(p).readlink())) for p in sandbox.SYSTEM_PATHS if Path(p).is_symlink()]


def readable_paths() -> list[str]:
    """Host paths a build sees read-only: the system, the Python installation, and only the
    parts of devpi-server's venv that hold code (``bin``, ``lib``, ``pyvenv.cfg``)."""
    paths = [p for p in (*sandbox.SYSTEM_PATHS, *sandbox.SYSTEM_FILES) if os.path.lexists(p)]
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve().parent.parent
    candidates = [sys.base_prefix, str(base)]
    if sys.prefix != sys.base_prefix:
        venv = Path(sys.prefix)
        candidates += [str(venv / n) for n in ("bin", "lib", "lib64", "pyvenv.cfg")]
    code = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    code += [  # editable installs: the source trees
        str(Path(str(package.__file__)).resolve().parent)
        for package in (devpi_buildfarm, devpi_foundry_common)
    ]
    for path in [*candidates, *code]:
        if os.path.lexists(path) and not any(
            path == p or path.startswith(p.rstrip("/") + "/") for p in paths
        ):
            paths.append(path)
    return paths
