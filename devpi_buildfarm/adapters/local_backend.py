"""The local backend: builds on this host, each step of package code in a fresh bubblewrap
sandbox (:mod:`.limits` says how it is confined), the steps of :mod:`.driver_backend`.
The driver reads its input frame on stdin and answers on stdout (:mod:`.session`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters.driver_backend import DriverBackend
from devpi_buildfarm.adapters.limits import Confinement
from devpi_buildfarm.adapters.session import run_driver
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.adapters.session import Answer
    from devpi_buildfarm.core.ports import BuildRequest


class LocalBackend(DriverBackend):
    """Builds on this host, in bubblewrap (or, only when allowed, without it)."""

    name = "local"

    def __init__(
        self, *, allow_unisolated: bool, build_user: str = "nobody",
        cache: EnvCache | None = None, scope: str = "default",
    ) -> None:  # fmt: skip
        super().__init__()
        self.confinement = Confinement(allow_unisolated=allow_unisolated, build_user=build_user,
                                       scope=scope)  # fmt: skip
        self.cache = cache

    @property
    def isolation(self) -> str:
        return self.confinement.kind

    def status(self, target: str) -> str:
        del target  # the builder serves this host's own target
        return "native" if self.confinement.bwrap or self.confinement.allow_unisolated else (
            "cannot run: bubblewrap (bwrap) is not installed")  # fmt: skip

    def prepare(self, request: BuildRequest) -> None:
        del request
        self.confinement.refuse_unless_possible()

    def environment(self, job: DriverJob) -> dict[str, Any]:
        del job
        return {"host": "this server's", "sandbox": self.confinement.kind,
                "uid": self.confinement.uid}  # fmt: skip

    def session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        request = job.request
        with self.confinement.session(request, f"{request.job_id}-{stage}") as box:
            job.isolation = box.description
            try:
                answer = run_driver(
                    box.argv, env=box.env, meta=meta, files=files, out_dir=job.work / "out",
                    max_output=request.limits.output_bytes, log=job.log,
                    deadline=job.deadline, cancelled=job.cancelled, stage=stage,
                )  # fmt: skip
            except BuildError:
                box.check(stage)  # the kernel's reason (memory) before the symptom
                raise
            box.check(stage)
        return answer
