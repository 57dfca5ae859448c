"""The local backend: builds on this host, each step of package code in a fresh sandbox.

Per build, in the worker's own job directory (which no build process can see): the
sdist's ``pyproject.toml`` is read as data and its build requirements checked; pip
fetches their wheels from the job's index as the job's identity; then the driver
(:mod:`devpi_buildfarm.inside.driver`) runs inside bubblewrap with those bytes on its stdin:
venv, build requirements, PEP 517 hooks, ``auditwheel repair``. When the build backend
asks for more requirements, they are checked and fetched and a fresh sandbox starts. The
wheel comes back on stdout into the job directory; a second fresh sandbox installs it with
its (checked, fetched) dependencies and imports it. Limits: see :mod:`.limits`.
"""

from __future__ import annotations

import logging
import threading
from email.parser import BytesParser
from email.policy import compat32
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters import wheelhouse
from devpi_buildfarm.adapters.limits import Confinement
from devpi_buildfarm.adapters.process import Deadline, timed
from devpi_buildfarm.adapters.session import run_driver
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core import wheels
from devpi_buildfarm.core.buildreqs import RequirementRefused, check_requirements
from devpi_buildfarm.core.buildsystem import BuildSystem, BuildSystemError, parse_build_system
from devpi_buildfarm.core.ports import BuildRequest, BuildResult
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError, wheel_metadata

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.core.ports import BuildLog

log = logging.getLogger(__name__)
RECENT: Final = 256


class LocalBackend:
    """Builds on this host, in bubblewrap (or, only when allowed, without it)."""

    name = "local"

    def __init__(
        self, *, allow_unisolated: bool, build_user: str = "nobody",
        cache: EnvCache | None = None, scope: str = "default",
    ) -> None:  # fmt: skip
        #: the build requirements of each index's (and identity's) last build
        self.recent: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.confinement = Confinement(allow_unisolated=allow_unisolated, build_user=build_user,
                                       scope=scope)  # fmt: skip
        self.cache = cache

    @property
    def isolation(self) -> str:
        return self.confinement.kind

    def build(
        self, request: BuildRequest, workdir: Path, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        self.confinement.refuse_unless_possible()
        job = _Build(self, request, workdir, log, cancelled)
        try:
            return self._steps(job, log)
        except BuildError as exc:  # the job records what held, failed or not
            exc.isolation = exc.isolation or job.isolation
            raise

    def _steps(self, job: _Build, log: BuildLog) -> BuildResult:
        # the build requirements of the index's last build: usually the same (a fetched
        # wheelhouse from the cache), so one sandbox session reads the sdist and builds
        guess = list(self.recent.get(job.request.access.cache_identity, ()))
        with timed(job.timings, "deps"):
            house = job.fetch(guess, "wheelhouse", "deps") if guess else None
        with timed(job.timings, "build"):
            answer = job.drive({"mode": "build", "known": guess, "extra": []}, house)
            known = guess
            if "pyproject" in answer.meta:  # other requirements: check, fetch, build anew
                known = list(job.build_system(answer.meta["pyproject"]).requires)
                self._remember(job.request.access.cache_identity, known)
                house = job.fetch(known, "wheelhouse2", "deps")
                answer = job.drive({"mode": "build", "known": known, "extra": []}, house)
            if "need" in answer.meta:
                extra = job.checked(answer.meta["need"], "get_requires_for_build_wheel")
                log(f"deps: the build also needs {' '.join(extra)}\n".encode())
                house = job.fetch([*known, *extra], "wheelhouse3", "deps")
                answer = job.drive({"mode": "build", "known": known, "extra": extra}, house)
            for key in ("pyproject", "need"):
                if key in answer.meta:
                    msg = (f"the build asked again for what it was given ({key}): "
                           f"{str(answer.meta[key])[:500]}")  # fmt: skip
                    raise BuildError(msg, stage="deps", permanent=True)
        if answer.file is None:
            msg = str(answer.meta.get("error") or "the build sent no wheel")
            raise BuildError(msg, stage=str(answer.meta.get("stage") or "build"))
        job.timings["repair"] = 0.0  # inside the build sandbox, timed with it
        with timed(job.timings, "smoke"):
            job.smoke(answer.file)
        return BuildResult(wheel=answer.file, isolation=job.isolation, timings=job.timings)

    def _remember(self, key: str, requires: list[str]) -> None:
        with self._lock:  # worker threads share the backend
            self.recent.pop(key, None)
            self.recent[key] = tuple(requires)
            while len(self.recent) > RECENT:
                self.recent.pop(next(iter(self.recent)))


class _Build:
    """One build's directories, limits and steps (on the worker's side)."""

    def __init__(self, backend: LocalBackend, request: BuildRequest, workdir: Path,
                 log: BuildLog, cancelled: Callable[[], bool]) -> None:  # fmt: skip
        self.backend, self.request, self.work = backend, request, workdir
        self.log, self.cancelled = log, cancelled
        self.deadline = Deadline(request.timeout)
        self.timings: dict[str, float] = {}
        self.isolation = backend.confinement.kind
        (workdir / "out").mkdir(mode=0o700, parents=True, exist_ok=True)

    def checked(self, texts: Any, source: str) -> list[str]:
        try:
            return check_requirements(texts if isinstance(texts, list) else [texts], source)
        except RequirementRefused as exc:
            raise BuildError(str(exc), stage="deps", permanent=True) from None

    def build_system(self, text: object) -> BuildSystem:
        """``[build-system]`` from the text of ``pyproject.toml`` the sandbox sent back
        (the worker never opens the sdist: archive parsers have had memory bugs), parsed
        here as data and its requirement strings checked."""
        if not isinstance(text, str):
            msg = "the sandbox sent no pyproject.toml text"
            raise BuildError(msg, stage="deps", permanent=True)
        try:
            return parse_build_system(text)
        except (BuildSystemError, RequirementRefused) as exc:
            raise BuildError(str(exc), stage="deps", permanent=True) from None

    def _plat(self) -> str:
        target = tg.parse_target(self.request.target)
        default = tg.DEFAULT_MANYLINUX if target.family == "manylinux" else tg.DEFAULT_MUSLLINUX
        return f"{self.request.policy or default}_{target.arch}"

    def fetch(self, requirements: list[str], folder: str, stage: str) -> Path:
        return wheelhouse.download(
            requirements, self.work / folder, access=self.request.access, log=self.log,
            deadline=self.deadline, cancelled=self.cancelled, cache=self.backend.cache,
            stage=stage, limits=self.request.limits,
        )  # fmt: skip

    def drive(
        self, meta: dict[str, Any], house: Path | None, extra: tuple[tuple[str, Path], ...] = ()
    ) -> Any:
        meta = {**meta, "plat": self._plat()}
        files = [(f"sdist/{self.request.sdist.name}", self.request.sdist)] if not extra else []
        files += [*extra, *(wheelhouse.wheels_in(house) if house is not None else [])]
        stage = "smoke" if meta["mode"] == "smoke" else "build"
        with self.backend.confinement.session(
            self.request, f"{self.request.job_id}-{stage}"
        ) as box:
            self.isolation = box.description
            try:
                answer = run_driver(
                    box.argv, env=box.env, meta=meta, files=files, out_dir=self.work / "out",
                    max_output=self.request.limits.output_bytes, log=self.log,
                    deadline=self.deadline, cancelled=self.cancelled, stage=stage,
                )  # fmt: skip
            except BuildError:
                box.check(stage)  # the kernel's reason (memory) before the symptom
                raise
            box.check(stage)
        if "error" in answer.meta:
            failed = str(answer.meta.get("stage", stage))
            raise BuildError(str(answer.meta["error"])[:4000], stage=failed,
                             permanent=failed == "deps")  # fmt: skip
        return answer

    def smoke(self, wheel: Path) -> None:
        """Install the wheel with its dependencies in a fresh sandbox and import it."""
        try:
            with wheel.open("rb") as stream:
                names = wheels.top_level_names(stream, wheel.name)
                stream.seek(0)
                raw = BytesParser(policy=compat32).parsebytes(wheel_metadata(stream, wheel.name))
        except ArchiveError as exc:
            raise BuildError(str(exc), stage="smoke") from None
        requires = self.checked(raw.get_all("Requires-Dist") or [], "Requires-Dist")
        house = self.fetch(requires, "smokehouse", "smoke")
        self.drive({"mode": "smoke", "import": names}, house, ((f"wheel/{wheel.name}", wheel),))
