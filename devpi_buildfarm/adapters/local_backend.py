"""The local backend: builds on this host, each step of package code in a fresh bubblewrap
sandbox (:mod:`.limits` says how it is confined), the steps of :mod:`.driver_backend`.
The driver reads its input frame on stdin and answers on stdout (:mod:`.session`). With a
builder's ``rootfs`` the sandbox shows an image's system instead of the host's
(:mod:`.rootfs`): its architecture (emulated where foreign) and its CPythons.
"""

from __future__ import annotations

import logging
import platform
from typing import TYPE_CHECKING, Any

from devpi_buildfarm.adapters import rootfs as rootfs_mod
from devpi_buildfarm.adapters.driver_backend import DriverBackend
from devpi_buildfarm.adapters.limits import Confinement
from devpi_buildfarm.adapters.session import run_driver
from devpi_buildfarm.core import interpreters
from devpi_buildfarm.core import targets as tg
from devpi_buildfarm.errors import BuildError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.adapters.envcache import EnvCache
    from devpi_buildfarm.adapters.session import Answer
    from devpi_buildfarm.adapters.toolbox import Toolbox
    from devpi_buildfarm.core.ports import BuildRequest


class LocalBackend(DriverBackend):
    """Builds on this host, in bubblewrap (or, only when allowed, without it)."""

    name = "local"

    def __init__(  # noqa: PLR0913 - how builds are confined, and where
        self, *, allow_unisolated: bool, build_user: str = "nobody",
        cache: EnvCache | None = None, scope: str = "default",
        rootfs: Path | None = None, toolbox: Toolbox | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.confinement = Confinement(allow_unisolated=allow_unisolated, build_user=build_user,
                                       scope=scope)  # fmt: skip
        self.cache = cache
        self.rootfs, self.toolbox = rootfs, toolbox
        self.image: rootfs_mod.RootImage | None = None
        #: builds of an image's rootfs fetch their requirements for the target
        self.cross_platform = rootfs is not None
        self.trouble: str | None = None
        if rootfs is not None:
            self.start()

    def start(self) -> None:
        """Load and probe the builder's rootfs (a problem is kept as the reason)."""
        try:
            if self.rootfs is None or self.toolbox is None or self.confinement.bwrap is None:
                msg = "a rootfs needs bubblewrap (bwrap) and a toolbox"
                raise ValueError(msg)  # noqa: TRY301 - kept below like every other problem
            image = rootfs_mod.load(self.rootfs, self.toolbox)
            self.image = rootfs_mod.probe(image, self.confinement.bwrap)
            self.trouble = None
        except (ValueError, OSError) as exc:
            self.trouble = str(exc)[:500]
            log.error("devpi-buildfarm: local rootfs %s cannot build: %s",  # noqa: TRY400
                      self.rootfs, self.trouble)  # fmt: skip

    @property
    def isolation(self) -> str:
        return self.confinement.kind

    def status(self, target: str) -> str:
        if self.rootfs is None:  # the builder serves this host's own target
            return "native" if self.confinement.bwrap or self.confinement.allow_unisolated else (
                "cannot run: bubblewrap (bwrap) is not installed")  # fmt: skip
        return interpreters.runs(self.image.probe if self.image else None,
                                 tg.parse_target(target),
                                 native=interpreters.native_archs(platform.machine()),
                                 where=f"rootfs {self.rootfs}", trouble=self.trouble)  # fmt: skip

    def prepare(self, request: BuildRequest) -> None:
        self.confinement.refuse_unless_possible()
        if self.rootfs is not None:
            if self.trouble is not None:
                self.start()
            state = self.status(request.target)
            if state.startswith("cannot run"):
                raise BuildError(state, stage="isolation", permanent=self.trouble is None)

    def environment(self, job: DriverJob) -> dict[str, Any]:
        found: dict[str, Any] = {"host": "this server's", "sandbox": self.confinement.kind,
                                 "uid": self.confinement.uid}  # fmt: skip
        if self.rootfs is not None:
            found |= {"rootfs": str(self.rootfs), "runs": self.status(job.request.target)}
        return found

    def session(
        self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]], stage: str
    ) -> Answer:
        request = job.request
        if self.image is not None:
            target = tg.parse_target(request.target)
            meta = {**meta, "python": interpreters.target_python(self.image.probe, target)}
        name = f"{request.job_id}-{stage}"
        with self.confinement.session(request, name, self.image) as box:
            job.isolation = box.description
            if self.image is not None:
                job.isolation += f" rootfs={self.rootfs} ({self.status(request.target)})"
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
