"""One session of the build driver in a fresh Docker container (docker SDK).

The container runs the builder's image as the build user, read-only, without network, in
memory, CPU and process limits of its own, with two size-capped tmpfs volumes: ``/job``
(the build's disk, its only writable space besides ``/tmp`` and ``/dev/shm``) and the
input at ``/opt/devpi-buildfarm-in``, which the build user cannot write; the toolbox is
the farm's volume (:mod:`.docker_toolbox`), mounted read-only at ``/opt/devpi-buildfarm``.
Files go in and out by archive copy through the daemon's API (``put_archive``/
``get_archive``), never by a host bind mount, so a remote daemon works the same: the
input frame goes in, the driver runs (``exec``, its output into the job's log), and the
answer frame comes back as one regular file of bounded size (its tar read by
:mod:`..core.onefile_tar`, not ``tarfile``), read here like the local backend's stdout.
The container and its volumes are removed whatever happens (by a background thread, once
the answer is read: the next step does not wait for the daemon).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any, Final

from devpi_buildfarm.adapters.docker_containers import (
    LABEL,
    REAPER,
    ContainerMaker,
    MiB,
    remove_all,
)
from devpi_buildfarm.adapters.docker_io import Chunks, docker_timestamp, frame_tar, stat
from devpi_buildfarm.adapters.session import Answer, read_answer
from devpi_buildfarm.core import sandbox
from devpi_buildfarm.core.framing import MAX_HEADER_BYTES, FrameError
from devpi_buildfarm.core.onefile_tar import only_file
from devpi_buildfarm.errors import BuildError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from devpi_buildfarm.adapters.docker_spare import Spares
    from devpi_buildfarm.adapters.driver_backend import DriverJob
    from devpi_buildfarm.adapters.toolbox import Toolbox

__all__ = ["LABEL", "ContainerSession", "docker_timestamp", "remove_all"]
log = logging.getLogger(__name__)
ANSWER: Final = f"{sandbox.JOB_DIR}/out/answer"
PATH: Final = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class ContainerSession:
    """Everything one container session needs (a backend makes one per session)."""

    def __init__(self, maker: ContainerMaker, toolbox: Toolbox, python: tuple[str, str], *,
                 spares: Spares | None = None) -> None:  # fmt: skip
        self.maker, self.client, self.settings = maker, maker.client, maker.settings
        self.toolbox, self.inbox, self.scope = toolbox, maker.inbox, maker.scope
        self.tool, self.target_python = python
        self.spares = spares

    def run(self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]],
            stage: str) -> Answer:  # fmt: skip
        from docker.errors import DockerException

        try:
            return self._run(job, meta, files, stage)
        except DockerException as exc:  # the daemon's failure, not the build's: retried
            msg = f"docker: {exc}"[:2000]
            raise BuildError(msg, stage=stage) from None

    def _run(self, job: DriverJob, meta: dict[str, Any], files: Sequence[tuple[str, Path]],
             stage: str) -> Answer:  # fmt: skip
        meta = {**meta, "python": self.target_python}
        frame = job.work / f"frame-{stage}.tar"
        size = frame_tar(frame, meta, files)
        name = f"devpi-buildfarm-{self.scope}-{job.request.job_id}-{stage}-{uuid.uuid4().hex[:8]}"
        with self._container(job, name, input_bytes=size) as container:
            with frame.open("rb") as stream:
                container.put_archive(self.inbox, stream)
            frame.unlink()
            began = self._daemon_time()
            code = self._exec(container, job, stage)
            container.pause()  # what the build left running cannot touch the answer now
            if self._oom_killed(container, began, self._daemon_time()):
                msg = (f"the build exceeded its memory limit of {job.request.limits.memory} "
                       "bytes and was killed")  # fmt: skip
                raise BuildError(msg, stage=stage, permanent=True)
            meta_out, file = self._answer(container, job, code, stage)
        return Answer(meta=meta_out, file=file, returncode=code)

    @contextlib.contextmanager
    def _container(self, job: DriverJob, name: str, *, input_bytes: int) -> Iterator[Any]:
        limits = job.request.limits
        made = None
        if self.spares is not None:  # a spare of this shape, made ahead (docker_spare.py)
            maker = self.maker
            made = self.spares.take(maker.shape(limits), input_bytes + MiB, maker.spare(limits))
        if made is None:
            labels = {LABEL: self.scope, "devpi-buildfarm.job": str(job.request.job_id)}
            made = self.maker.make(limits, labels, name, input_bytes + MiB)
        try:
            if made.container.name != name:
                made.container.rename(name)  # the spare is this job's now
            yield made.container
        finally:  # the container first: its volumes are in use until then
            REAPER.submit(remove_all, made.things)

    def _daemon_time(self) -> str:
        """The daemon's clock now, as its API's timestamps (``seconds.nanoseconds``)."""
        return docker_timestamp(str(self.client.info().get("SystemTime", "")))

    def _oom_killed(self, container: Any, since: str, until: str) -> bool:
        """Whether the kernel killed a process of the container for memory (the daemon's
        ``oom`` events: they also cover processes other than the container's first).
        Both times are the daemon's: an ``until`` ahead of its clock would make it wait,
        a remote daemon's clock may differ from ours, and a past ``until`` answers at once."""
        wanted = {"container": container.id, "event": "oom"}
        events = self.client.events(since=since, until=until, decode=True, filters=wanted)
        try:
            return any(True for _ in events)
        finally:
            events.close()

    def _exec(self, container: Any, job: DriverJob, stage: str) -> int:
        env = sandbox.build_env(PATH) | {"DEVPI_BUILDFARM_TOOLS": self.toolbox.runner}
        argv = [self.tool, "-I", self.toolbox.runner, "devpi_buildfarm.inside.driver",
                "--in", f"{self.inbox}/input/frame", "--out", ANSWER]  # fmt: skip
        api = self.client.api
        exe = api.exec_create(container.id, argv, user=self.settings["user"], environment=env,
                              workdir=sandbox.JOB_DIR, stdout=True, stderr=True)  # fmt: skip
        stream = api.exec_start(exe["Id"], stream=True, demux=True)
        pump = threading.Thread(target=_pump, args=(stream, job), daemon=True)
        pump.start()
        reason = None
        while pump.is_alive():
            pump.join(timeout=0.2)
            if job.deadline.left() <= 0:
                reason = f"timed out after {job.deadline.seconds:g} s"
            elif job.cancelled():
                reason = "cancelled"
            if reason is not None:
                with contextlib.suppress(Exception):
                    container.kill()
                raise BuildError(reason, stage="cancelled" if reason == "cancelled" else stage)
        code = api.exec_inspect(exe["Id"]).get("ExitCode")
        return -1 if code is None else int(code)

    def _answer(self, container: Any, job: DriverJob, code: int,
                stage: str) -> tuple[dict[str, Any], Path | None]:  # fmt: skip
        limit = job.request.limits.output_bytes
        cap = limit + MAX_HEADER_BYTES + MiB
        found = stat(self.client.api, container.id, ANSWER)  # HEAD: nothing is read yet
        if found is None:
            msg = f"the sandbox ended with {code} and no answer"
            raise BuildError(msg, stage=stage)
        if found.get("linkTarget") or int(found.get("mode", 0)) & ~0o7777:
            msg = "the build's answer is not a regular file"
            raise BuildError(msg, stage=stage, permanent=True)
        if int(found.get("size", 0)) > cap:
            msg = f"the build's answer is {found['size']} bytes, over the output limit of {limit}"
            raise BuildError(msg, stage=stage, permanent=True)
        chunks, _ = container.get_archive(ANSWER)
        stream = Chunks(chunks, cap + MiB)
        try:
            body = only_file(stream, "answer", cap)  # type: ignore[arg-type]
            return read_answer(body, job.work / "out", limit)
        except (FrameError, OSError) as exc:
            raise BuildError(str(exc), stage=stage, permanent=True) from None
        finally:
            stream.drain()  # the daemon holds the container while its archive is unread


def _pump(stream: Iterator[tuple[bytes | None, bytes | None]], job: DriverJob) -> None:
    with contextlib.suppress(Exception):  # the container was killed: its stream just ends
        for out, err in stream:
            for data in (out, err):
                if data:
                    job.log(data)
