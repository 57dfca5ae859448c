"""The local backend: builds on this host, in a throw-away directory per job.

Steps (each timed): ``deps`` unpacks the sdist (bounded), resolves its build requirements
through the devpi index (wheels only) and installs them into a fresh venv; ``build``
calls the PEP 517 hooks (``pyproject_hooks``) offline; ``repair`` runs ``auditwheel
repair`` on Linux platform wheels; ``smoke`` installs the wheel into another fresh venv
(``venv --without-pip`` plus the host pip's ``--python``) and imports its top-level
packages. Package code runs only inside the sandbox (bubblewrap, no network); without
bubblewrap the backend refuses unless unisolated builds are allowed.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import parse_wheel_filename
from pyproject_hooks import BuildBackendHookCaller

from devpi_buildfarm.adapters import process
from devpi_buildfarm.adapters.envcache import env_key
from devpi_buildfarm.core import sandbox, wheels
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core.ports import BuildRequest, BuildResult
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import Archive, ArchiveError

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Callable, Mapping, Sequence

    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.core.ports import BuildLog

log = logging.getLogger(__name__)
DEFAULT_BUILD_SYSTEM = {"requires": ["setuptools>=40.8.0"], "build-backend": ""}
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"


class UnisolatedError(BuildError):
    """No bubblewrap and unisolated builds not allowed."""


class LocalBackend:
    """Builds on this host (bubblewrap-isolated when available)."""

    name = "local"

    def __init__(
        self,
        *,
        allow_unisolated: bool,
        python: str | None = None,
        env_cache: EnvCache | None = None,
    ) -> None:
        self.python = python or sys.executable
        self.bwrap = shutil.which("bwrap")
        self.prlimit = shutil.which("prlimit")
        self.allow_unisolated = allow_unisolated
        self.env_cache = env_cache

    @property
    def isolation(self) -> str:
        return "bubblewrap" if self.bwrap else "none"

    def build(
        self, request: BuildRequest, workdir: Path, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        if self.bwrap is None and not self.allow_unisolated:
            msg = (
                "bubblewrap (bwrap) is not installed and unisolated builds are not allowed; "
                "install bubblewrap or start devpi-server with --buildfarm-allow-unisolated"
            )
            raise UnisolatedError(msg, stage="isolation")
        job = _Job(self, request, workdir, log, cancelled)
        log(f"devpi-buildfarm: job {request.job_id}, target {request.target}, "
            f"isolation {self.isolation}\n".encode())  # fmt: skip
        with job.timed("deps"):
            source = job.unpack()
            hooks = job.prepare(source)
        with job.timed("build"):
            built = job.build_wheel(hooks)
        with job.timed("repair"):
            wheel = job.repair(built)
        with job.timed("smoke"):
            job.smoke(wheel)
        return BuildResult(wheel=wheel, isolation=self.isolation, timings=job.timings)


class _Job:
    """One build's directories, environment and steps."""

    def __init__(
        self,
        backend: LocalBackend,
        request: BuildRequest,
        workdir: Path,
        log: BuildLog,
        cancelled: Callable[[], bool],
    ) -> None:
        self.backend = backend
        self.request = request
        self.work = workdir.resolve()
        self.log = log
        self.cancelled = cancelled
        self.deadline = process.Deadline(request.timeout)
        self.timings: dict[str, float] = {}
        for sub in ("home", "tmp", "wheelhouse", "dist", "repaired"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)

    def timed(self, stage: str) -> contextlib.AbstractContextManager[None]:
        return process.timed(self.timings, stage)

    # --- running commands ---------------------------------------------------------------------
    def host(self, argv: Sequence[str], stage: str) -> None:
        """A trusted tool (pip resolving or installing wheels, auditwheel) on the host."""
        env = {
            "PATH": f"{Path(self.backend.python).parent}:/usr/bin:/bin",
            "HOME": str(self.work / "home"),
            "TMPDIR": str(self.work / "tmp"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "LANG": "C.UTF-8",
        }
        process.run(argv, stage=stage, log=self.log, deadline=self.deadline,
                    cancelled=self.cancelled, env=env, cwd=str(self.work))  # fmt: skip

    def sandboxed(  # noqa: PLR0913 - the sandbox's aspects, keyword-only
        self,
        argv: Sequence[str],
        stage: str,
        *,
        cwd: Path,
        venv: Path,
        readable: Sequence[str] = (),
        writable: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        """Package code: inside bubblewrap (or, when allowed, without it)."""
        env = sandbox.build_env(
            home=str(self.work / "home"), tmp=str(self.work / "tmp"),
            path=[str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"],
        )  # fmt: skip
        env.update(extra_env or {})
        box = sandbox.Sandbox(
            cwd=str(cwd),
            env=env,
            writable=[str(self.work), *writable],
            readable=[*sandbox.SYSTEM_PATHS, *sandbox.SYSTEM_FILES, *_python_paths(), *readable],
            symlinks=[
                (p, str(Path(p).readlink())) for p in sandbox.SYSTEM_PATHS if Path(p).is_symlink()
            ],
            memory=self.request.memory,
            pids=self.request.pids,
        )
        cmd = list(argv)
        if self.backend.bwrap is not None:
            cmd = sandbox.bwrap_argv(self.backend.bwrap, cmd, box)
        if self.backend.prlimit is not None:
            cmd = sandbox.prlimit_argv(self.backend.prlimit, cmd, box)
        process.run(cmd, stage=stage, log=self.log, deadline=self.deadline,
                    cancelled=self.cancelled, env=env, cwd=str(cwd), show=argv)  # fmt: skip

    # --- steps ----------------------------------------------------------------------------------
    def unpack(self) -> Path:
        data = self.request.sdist.read_bytes()
        try:
            with Archive(data, self.request.sdist.name) as archive:
                top = archive.top_level()
                archive.extract(self.work / "src")
        except ArchiveError as exc:
            raise BuildError(str(exc), stage="deps") from exc
        return self.work / "src" / top

    def pip_install(self, venv: Path, requirements: Sequence[str], stage: str) -> None:
        """Resolve ``requirements`` through the index and install them, wheels only (no
        package code runs: nothing is built), with the host's pip into ``venv``."""
        if not requirements:
            return
        self.host([self.backend.python, "-m", "pip", "--python", str(venv / "bin" / "python"),
                   "install", "--isolated", "--only-binary", ":all:", "--no-cache-dir",
                   "--index-url", self.request.index_url, *requirements], stage)  # fmt: skip

    def build_env(self, requirements: Sequence[str]) -> Path:
        """A fresh venv with ``requirements``: a copy of a cached one when possible."""
        path = self.work / "buildenv"
        cache = self.backend.env_cache
        if cache is None or not requirements:
            self.venv(path.name)
            self.pip_install(path, requirements, "deps")
            return path

        def make(staging: Path) -> None:
            self.host([self.backend.python, "-m", "venv", "--without-pip", str(staging)], "deps")
            self.pip_install(staging, requirements, "deps")

        key = env_key(self.request.index_url, self.backend.python, requirements)
        if cache.provide(key, path, make):
            self.log(f"deps: build environment for {' '.join(requirements)} from the cache "
                     f"(made within {cache.ttl:.0f} s from the same index)\n".encode())  # fmt: skip
        return path

    def venv(self, name: str) -> Path:
        path = self.work / name
        self.host([self.backend.python, "-m", "venv", "--without-pip", str(path)], "deps")
        return path

    def prepare(self, source: Path) -> BuildBackendHookCaller:
        system = _build_system(source)
        env = self.build_env(system["requires"])
        hooks = BuildBackendHookCaller(
            str(source),
            system["build-backend"] or LEGACY_BACKEND,
            backend_path=system.get("backend-path"),
            runner=self._hook_runner(source, env),
            python_executable=str(env / "bin" / "python"),
        )
        extra = self._call(hooks.get_requires_for_build_wheel, "deps")
        missing = [r for r in extra if r not in system["requires"]]
        self.pip_install(env, missing, "deps")
        return hooks

    def _hook_runner(self, source: Path, venv: Path) -> Callable[..., None]:
        def runner(
            cmd: Sequence[str],
            cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None,
        ) -> None:
            # pyproject_hooks runs its helper script with a control directory of its own
            script_dir, control = str(Path(cmd[1]).parent), cmd[-1]
            self.sandboxed(cmd, "build", cwd=Path(cwd or source), venv=venv,
                           readable=[script_dir], writable=[control],
                           extra_env=extra_environ)  # fmt: skip

        return runner

    def _call(self, hook: Callable[[], Any], stage: str) -> Any:
        try:
            return hook()
        except BuildError:
            raise
        except Exception as exc:
            msg = f"build backend failed: {exc!r}"
            raise BuildError(msg, stage=stage) from exc

    def build_wheel(self, hooks: BuildBackendHookCaller) -> Path:
        dist = self.work / "dist"
        name = self._call(lambda: hooks.build_wheel(str(dist)), "build")
        wheel = dist / str(name)
        if not wheel.is_file() or "/" in str(name):
            msg = f"the build backend reported {name!r}, not a wheel file"
            raise BuildError(msg, stage="build")
        return wheel

    def repair(self, wheel: Path) -> Path:
        _, _, _, tags = parse_wheel_filename(wheel.name)
        if not any(t.platform.startswith("linux_") for t in tags):
            self.log(b"repair: not a Linux platform wheel, nothing to repair\n")
            return wheel
        target = tg.parse_target(self.request.target)
        plat = f"{self.request.policy or tg.DEFAULT_MANYLINUX}_{target.arch}"
        out = self.work / "repaired"
        self.host([self.backend.python, "-m", "auditwheel", "repair", "--plat", plat,
                   "-w", str(out), str(wheel)], "repair")  # fmt: skip
        found = sorted(out.glob("*.whl"))
        if len(found) != 1:
            msg = f"auditwheel produced {len(found)} wheels, expected 1"
            raise BuildError(msg, stage="repair")
        return found[0]

    def smoke(self, wheel: Path) -> None:
        names = wheels.top_level_names(wheel.read_bytes(), wheel.name)
        env = self.venv("smokeenv")
        pip = [self.backend.python, "-m", "pip", "--python", str(env / "bin" / "python")]
        self.host([*pip, "install", "--isolated", "--only-binary", ":all:",
                   "--index-url", self.request.index_url, str(wheel)], "smoke")  # fmt: skip
        if not names:
            self.log(b"smoke: the wheel has no importable top-level names\n")
            return
        code = "; ".join(f"import {name}" for name in names)
        self.sandboxed([str(env / "bin" / "python"), "-c", code], "smoke",
                       cwd=self.work / "tmp", venv=env)  # fmt: skip


def _build_system(source: Path) -> dict[str, Any]:
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return dict(DEFAULT_BUILD_SYSTEM)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"pyproject.toml does not parse: {exc}"
        raise BuildError(msg, stage="deps") from exc
    system = data.get("build-system", DEFAULT_BUILD_SYSTEM)
    requires = system.get("requires", DEFAULT_BUILD_SYSTEM["requires"])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        msg = "pyproject.toml: build-system.requires must be a list of strings"
        raise BuildError(msg, stage="deps")
    backend_path = system.get("backend-path")
    return {
        "requires": requires,
        "build-backend": str(system.get("build-backend", "")),
        "backend-path": backend_path if isinstance(backend_path, list) else None,
    }


def _python_paths() -> list[str]:
    """The Python installation venvs point to (read-only inside the sandbox)."""
    base = getattr(sys, "_base_executable", sys.executable)  # what venvs link to
    paths = {sys.base_prefix, str(Path(base).resolve().parent.parent)}
    return sorted(p for p in paths if not p.startswith(("/usr/", "/bin", "/lib")))
