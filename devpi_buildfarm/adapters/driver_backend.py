"""The steps every driver-based backend takes, wherever its sandbox runs.

Per build, in the worker's own job directory (which no build process can see): pip
fetches the build requirements' wheels from the job's index as the job's identity, for
the job's target (:mod:`.wheelhouse`); then the build driver
(:mod:`devpi_buildfarm.inside.driver`) runs in a fresh sandbox session with those bytes as
its input: venv, build requirements, PEP 517 hooks, ``auditwheel repair``. When the build
asks for other requirements (its ``pyproject.toml``, ``get_requires_for_build_wheel``),
they are checked, fetched and a fresh session starts. The wheel comes back as one frame;
a second fresh session installs it with its (checked, fetched) dependencies and imports
what it contains. Where a session runs (bubblewrap here, a container, a remote host) is
each backend's :meth:`DriverBackend.session`.
"""

from __future__ import annotations

import abc
import hashlib
import threading
from email.parser import BytesParser
from email.policy import compat32
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters import wheelhouse
from devpi_buildfarm.adapters.process import Deadline, timed
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.core import wheels
from devpi_buildfarm.core.buildreqs import RequirementRefused, check_requirements
from devpi_buildfarm.core.buildsystem import BuildSystem, BuildSystemError, parse_build_system
from devpi_buildfarm.core.ports import BuildRequest, BuildResult
from devpi_buildfarm.errors import BuildError
from devpi_foundry_common.archive import ArchiveError, wheel_metadata

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.adapters.session import Answer
    from devpi_buildfarm.core.ports import BuildLog

RECENT: Final = 256


class DriverBackend(abc.ABC):
    """The build steps; subclasses say where one session of the driver runs."""

    name = "driver"
    cache: EnvCache | None = None
    #: pip download's platform options for the target (empty: this host's own)
    cross_platform = False

    def __init__(self) -> None:
        #: the build requirements of each index's (and identity's) last build
        self.recent: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    @property
    @abc.abstractmethod
    def isolation(self) -> str:
        """What confines this backend's builds (the job record's ``isolation``)."""

    @abc.abstractmethod
    def session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        """Run the driver once with ``meta`` and ``files``; its answer (``job.isolation``
        says what confined it)."""

    def prepare(self, request: BuildRequest) -> None:  # noqa: B027 - optional, nothing by default
        """Refuse at once what this backend cannot build (:class:`BuildError`)."""

    def environment(self, job: DriverJob) -> dict[str, Any]:
        """Where the job's sessions ran, for its build record (image, host key, ...)."""
        del job
        return {}

    def build(
        self, request: BuildRequest, workdir: Path, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        self.prepare(request)
        job = DriverJob(self, request, workdir, log, cancelled)
        try:
            return self._steps(job, log)
        except BuildError as exc:  # the job records what held, failed or not
            exc.isolation = exc.isolation or job.isolation
            raise

    def _steps(self, job: DriverJob, log: BuildLog) -> BuildResult:
        # the build requirements of the index's last build: usually the same (a fetched
        # wheelhouse from the cache), so one sandbox session reads the sdist and builds
        key = f"{job.request.access.cache_identity} {job.request.target}"
        guess = list(self.recent.get(key, ()))
        with timed(job.timings, "deps"):
            house = job.fetch(guess, "wheelhouse", "deps") if guess else None
        with timed(job.timings, "build"):
            answer = job.drive({"mode": "build", "known": guess, "extra": []}, house)
            known = guess
            if "pyproject" in answer.meta:  # other requirements: check, fetch, build anew
                known = list(job.build_system(answer.meta["pyproject"]).requires)
                self._remember(key, known)
                house = job.fetch(known, "wheelhouse2", "deps")
                answer = job.drive({"mode": "build", "known": known, "extra": []}, house)
            if "need" in answer.meta:
                extra = job.checked(answer.meta["need"], "get_requires_for_build_wheel")
                log(f"deps: the build also needs {' '.join(extra)}\n".encode())
                house = job.fetch([*known, *extra], "wheelhouse3", "deps")
                answer = job.drive({"mode": "build", "known": known, "extra": extra}, house)
            for asked in ("pyproject", "need"):
                if asked in answer.meta:
                    msg = (f"the build asked again for what it was given ({asked}): "
                           f"{str(answer.meta[asked])[:500]}")  # fmt: skip
                    raise BuildError(msg, stage="deps", permanent=True)
        if answer.file is None:
            msg = str(answer.meta.get("error") or "the build sent no wheel")
            raise BuildError(msg, stage=str(answer.meta.get("stage") or "build"))
        job.timings["repair"] = 0.0  # inside the build session, timed with it
        built = answer
        with timed(job.timings, "smoke"):
            smoked = job.smoke(answer.file)
        record = build_record(self, job, built.meta, smoked.meta)
        return BuildResult(wheel=answer.file, isolation=job.isolation, timings=job.timings,
                           record=record)  # fmt: skip

    def _remember(self, key: str, requires: list[str]) -> None:
        with self._lock:  # worker threads share the backend
            self.recent.pop(key, None)
            self.recent[key] = tuple(requires)
            while len(self.recent) > RECENT:
                self.recent.pop(next(iter(self.recent)))


class DriverJob:
    """One build's directories, limits and steps (on the worker's side)."""

    def __init__(self, backend: DriverBackend, request: BuildRequest, workdir: Path,
                 log: BuildLog, cancelled: Callable[[], bool]) -> None:  # fmt: skip
        self.backend, self.request, self.work = backend, request, workdir
        self.log, self.cancelled = log, cancelled
        self.deadline = Deadline(request.timeout)
        self.timings: dict[str, float] = {}
        self.isolation = backend.isolation
        #: what each session stage was sent: (name, sha256) of every file
        self.sent: dict[str, list[tuple[str, str]]] = {}
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

    def plat(self) -> str:
        """The ``auditwheel repair --plat`` of this job (the builder's policy)."""
        target = tg.parse_target(self.request.target)
        default = tg.DEFAULT_MANYLINUX if target.family == "manylinux" else tg.DEFAULT_MUSLLINUX
        return f"{self.request.policy or default}_{target.arch}"

    def fetch(self, requirements: list[str], folder: str, stage: str) -> Path:
        platform = None
        if self.backend.cross_platform:
            platform = tg.pip_platform_args(self.request.target, self.request.policy)
        return wheelhouse.download(
            requirements, self.work / folder, access=self.request.access, log=self.log,
            deadline=self.deadline, cancelled=self.cancelled, cache=self.backend.cache,
            stage=stage, limits=self.request.limits, platform=platform,
        )  # fmt: skip

    def drive(
        self, meta: dict[str, Any], house: Path | None, extra: tuple[tuple[str, Path], ...] = ()
    ) -> Any:
        meta = {**meta, "plat": self.plat()}
        files = [(f"sdist/{self.request.sdist.name}", self.request.sdist)] if not extra else []
        files += [*extra, *(wheelhouse.wheels_in(house) if house is not None else [])]
        stage = "smoke" if meta["mode"] == "smoke" else "build"
        session = stage if stage not in self.sent else f"{stage}{len(self.sent) + 1}"
        self.sent[session] = [(name, sha256_of(path)) for name, path in files]
        answer = self.backend.session(self, meta, files, stage)
        if "error" in answer.meta:
            failed = str(answer.meta.get("stage", stage))
            raise BuildError(str(answer.meta["error"])[:4000], stage=failed,
                             permanent=failed == "deps")  # fmt: skip
        return answer

    def smoke(self, wheel: Path) -> Any:
        """Install the wheel with its dependencies in a fresh session and import what it
        contains (its ``RECORD``: top-level packages, modules and extension modules)."""
        try:
            with wheel.open("rb") as stream:
                names = wheels.import_names(stream, wheel.name)
                stream.seek(0)
                raw = BytesParser(policy=compat32).parsebytes(wheel_metadata(stream, wheel.name))
        except ArchiveError as exc:
            raise BuildError(str(exc), stage="smoke") from None
        requires = self.checked(raw.get_all("Requires-Dist") or [], "Requires-Dist")
        house = self.fetch(requires, "smokehouse", "smoke")
        return self.drive({"mode": "smoke", "import": names}, house,
                          ((f"wheel/{wheel.name}", wheel),))  # fmt: skip


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def build_record(
    backend: DriverBackend, job: DriverJob, built: dict[str, Any], smoked: dict[str, Any]
) -> dict[str, Any]:
    """How the build ran: what the worker saw and chose (``observed``), and what the build
    session said of itself (``reported``: the sandbox's words, bounded, never trusted)."""
    return {
        "observed": {
            "backend": backend.name,
            "environment": backend.environment(job),
            "isolation": job.isolation,
            "target": job.request.target,
            "repair_plat": job.plat(),
            "inputs": {stage: [{"name": n, "sha256": d} for n, d in files]
                       for stage, files in job.sent.items()},
        },
        "reported": {
            "tools": _strings(built.get("tools"), 20),
            "build_commands": _strings(built.get("commands"), 50),
            "smoke_commands": _strings(smoked.get("commands"), 50),
        },
    }  # fmt: skip


def _strings(value: object, most: int) -> Any:
    """A bounded copy of strings the sandbox sent (a list, or a mapping of strings)."""
    if isinstance(value, dict):
        return {str(k)[:100]: str(v)[:200] for k, v in list(value.items())[:most]}
    if isinstance(value, list):
        return [str(item)[:1000] for item in value[:most]]
    return None
